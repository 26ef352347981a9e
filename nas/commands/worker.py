"""``nas worker``: join a search and train its candidates until it is finished.

A worker needs only the storage and the study name: everything else (space,
strategy, target, seed, training schedule, data) is read from the settings
``nas search`` stored in the study.  It waits for a study that does not
exist yet, so workers can be started before the search.  Each worker asks
the strategy for the next point of the shared history, exactly as the search
process does; the coordinate search's six candidates of one step go to up
to six workers, and a worker with nothing to do backs off until a step ends.
The chosen model's final training is left to ``nas search`` (a re-run of it
does it if the search process is gone), so a worker exits 0 when the search
itself is finished or its budget is spent.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from typing import Any

from spaces.errors import NasError

from ..engine import data_spec, ledger_options, open_data, plan_data, proxy_estimator
from ..values import DATA, STUDY, Duration, Real, input_folder, parse_duration, storage
from .search import add_worker_options

DEFAULT_WAIT_SECONDS = 600.0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("worker", help="join a search (started or about to start) and train its candidates")
    parser.add_argument(
        "--storage",
        type=storage,
        required=True,
        metavar="URL",
        help="the search's storage, e.g. postgresql://user:pw@host/db",
    )
    parser.add_argument(
        "--study", type=STUDY, required=True, metavar="NAME", help="the search's study name (nas search --study NAME)"
    )
    parser.add_argument(
        "--data",
        type=DATA,
        metavar="CACHE",
        help="clip cache on this machine (default: what the search uses; must hold the same clips)",
    )
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda or cuda:N")
    parser.add_argument(
        "--wait",
        type=Real(0, 86_400),
        default=DEFAULT_WAIT_SECONDS,
        metavar="S",
        help=f"wait up to S seconds for the study to appear (default {DEFAULT_WAIT_SECONDS:g})",
    )
    parser.add_argument(
        "--time-limit", type=Duration(), metavar="T", help="stop taking new candidates after T (e.g. 8h)"
    )
    parser.add_argument(
        "--checkpoints",
        type=input_folder("checkpoints"),
        metavar="DIR",
        help="a search with --inherit: where this machine reaches its "
        "checkpoint folder (default: the folder the search named)",
    )
    add_worker_options(parser)
    parser.add_argument("--json", action="store_true", help="end with one JSON line of what this worker did")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import json

    import optuna

    from estimators.distributed import from_environment

    if from_environment() is not None:
        raise NasError(
            "nas worker trains each candidate in one process; to train each candidate on several "
            "processes (GPUs), launch 'nas search' with torchrun"
        )

    from ..ledger import open_study
    from ..progress import SearchProgress
    from ..runner import SearchRunner, trained_count
    from ..storage import check_storage, local_file, storage_url
    from ..study_config import repeats_of

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if args.wait < 0:
        raise NasError(f"--wait must be 0 or more seconds, got {args.wait}")
    time_limit = parse_duration(args.time_limit)
    options = ledger_options(args.heartbeat, args.storage_retry)
    url = storage_url(args.storage)
    check_storage(url)
    path = local_file(url)
    if path is not None and not os.path.exists(path) and not args.wait:
        raise NasError(
            f"no ledger at {path}; start the search first (nas search --storage {path} --study {args.study}), "
            "or give --wait so this worker waits for it"
        )
    ledger = open_study(url, args.study, wait=args.wait, **options)
    strategy, estimator = _rebuild(ledger, args)
    logging.getLogger("nas.cli").info(
        f"worker joined study {ledger.study_name!r}: {ledger.space.name} by {strategy.name}, "
        f"{estimator.schedule.epochs:g} epochs per candidate on {estimator.cache.path} ({estimator.device})"
    )
    started = time.monotonic()
    runner = SearchRunner(
        ledger.space,
        strategy,
        estimator,
        ledger,
        budget=lambda: ledger.attr("budget"),
        time_limit=time_limit,
        final_epochs=None,
        progress=SearchProgress(),
        repeats=repeats_of(ledger.config()),
        checkpoints=_checkpoints(ledger, estimator, args),
    )
    outcome = runner.run()
    done = {
        "study": ledger.study_name,
        "stopped": outcome.stopped,
        "trained_here": outcome.trained_now,
        "trained": trained_count(outcome.runs or outcome.history),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(
        f"worker done: trained {done['trained_here']} of the search's {done['trained']} models; "
        f"search {done['stopped']}"
    )
    if args.json:
        print(json.dumps(done, sort_keys=True))
    return 0


def _rebuild(ledger: Any, args: argparse.Namespace):
    """The search's strategy and estimator, from the settings stored in its study."""
    from estimators.proxy import resolve_device

    from ..study_config import strategy_from_config

    config = ledger.config()
    space = ledger.space
    strategy = strategy_from_config(space, config)
    spec = data_spec(args.data) if args.data else (ledger.attr("data") or "synth")
    device = resolve_device(args.device)
    existing, synth_settings, classes = plan_data(spec)
    wanted_classes = (config.get("space_settings") or {}).get("num_classes")
    if wanted_classes is not None and classes != wanted_classes:
        raise NasError(
            f"the data {spec} has {classes} classes, the search's model {wanted_classes}; "
            "give --data the clip cache the search uses"
        )
    wanted_source = (config["estimator_settings"].get("data") or {}).get("source_fingerprint")
    if synth_settings is not None and wanted_source and synth_settings.fingerprint() != wanted_source:
        _refuse(["data"])  # before building synthetic data the search does not use
    estimator = proxy_estimator(open_data(existing, synth_settings), config["estimator_settings"]["schedule"], device)
    if estimator.fingerprint() != config["estimator"]:
        wanted = config["estimator_settings"]
        have = estimator.settings()
        _refuse(sorted(k for k in set(wanted) | set(have) if wanted.get(k) != have.get(k)) or ["torch version"])
    return strategy, estimator


def _checkpoints(ledger: Any, estimator: Any, args: argparse.Namespace):
    """The search's checkpoint store, where this machine reaches it (None for a search without --inherit)."""
    from ..checkpoints import CheckpointStore, check_same_store
    from ..engine import referenced_checkpoints

    if not estimator.schedule.inherit:
        if args.checkpoints:
            raise NasError(
                f"study {ledger.study_name!r} was started without --inherit: it keeps no checkpoints; "
                "drop --checkpoints"
            )
        return None
    stored = ledger.attr("checkpoints")
    folder = args.checkpoints or stored
    if not folder:
        raise NasError(f"study {ledger.study_name!r} names no checkpoint folder; give --checkpoints DIR")
    if not os.path.isdir(folder):
        raise NasError(
            f"the search's checkpoint folder {folder} is not on this machine; give --checkpoints DIR "
            "where this machine mounts it"
        )
    store = CheckpointStore.in_folder(folder)
    if stored and store.where != stored:
        check_same_store(store, referenced_checkpoints(ledger), stored)
    return store


def _refuse(differs: list[str]) -> None:
    raise NasError(
        f"this worker would train differently from the search ({', '.join(differs)} differ); give --data "
        "a copy of the search's clip cache, the same --device kind and the same torch version"
    )
