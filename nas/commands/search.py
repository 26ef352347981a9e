"""``nas search``: run (or resume) a search and print its path and chosen model.

With no argument but ``--space x3d --strategy coordinate`` it runs on the
embedded synthetic clip cache (built on first use) with a proxy setting
sized for a 2-core CPU: an X2D with stages of 1, 1, 2, 1 blocks at a 48^2
base crop and a stride of 8 frames, 6 training epochs per candidate, a
0.0125 GMACs target (two expansion steps inside it, a third that
overshoots and is contracted back onto it where a point between fits), then
the chosen model trained for 40 epochs: candidates are ranked on a short
schedule, as in X3D, and the chosen one is then trained properly.  A step
whose best and runner-up are within the noise is a tie, settled by the tie
rule (more seeds for the tied candidates, then the cheapest).

The default data, proxy setting and target are the space's own
(``SearchSpace.default_data`` and ``proxy_defaults``), so another space —
built in (``x2d-image`` trains on the synthetic images) or installed — brings
its own without this command knowing its name.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict
from typing import Any

from spaces.errors import RunFailure

from ..config import (
    DEFAULT_FINAL_EPOCHS,
    DEFAULT_TIE_MAX_RUNS,
    DEFAULT_TIE_SIGMAS,
    MAX_REPEATS,
    RANGES,
    SearchConfig,
)
from ..values import DATA, Duration, new_study, output_folder, parse_options, storage
from .common import add_cost_arguments, print_path


def _builtin(setting: str) -> str:
    """A proxy default of the built-in spaces, read from the spaces themselves so help and code cannot disagree."""
    from dataclasses import fields

    from estimators.proxy import ProxySchedule
    from spaces.image.space import X2DImageSpace
    from spaces.x3d.space import X3DSpace

    common = {f.name: f.default for f in fields(ProxySchedule)}
    texts = []
    for space in (X3DSpace, X2DImageSpace):
        defaults = space.proxy_defaults
        value = defaults.get(setting, defaults.get("schedule", {}).get(setting, common.get(setting)))
        texts.append(f"{value:g} for {space.name}")
    return ", ".join(texts)


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("search", help="search a space with a strategy (resumes a killed search)")
    parser.add_argument("--space", default="x3d", help="space name (see 'nas space list'; default x3d)")
    parser.add_argument("--strategy", default="coordinate", help="strategy name (default coordinate)")
    parser.add_argument(
        "--data",
        type=DATA,
        metavar="CACHE",
        help="clip cache folder, or 'synth[:key=value,...]' / 'synth-motion[:...]' / 'synth-image[:...]' for the "
        "embedded synthetic scenes / motion-only clips / images (built on first use; e.g. synth:clips_per_class=50, "
        "synth-image:images_per_class=50); default: the space's own (synth for x3d, synth-image for x2d-image)",
    )
    parser.add_argument(
        "--target-gflops",
        type=RANGES["target_gflops"],
        metavar="G",
        help=(
            f"compute target in GMACs (multiply-adds) per clip (default: the space's own, {_builtin('target_gflops')})"
        ),
    )
    add_cost_arguments(parser)
    parser.add_argument(
        "--budget",
        type=RANGES["budget"],
        metavar="N",
        help="stop after N trained models (re-run with more to go on); open-ended strategies "
        "such as random default to as many as the coordinate search plans",
    )
    parser.add_argument(
        "--time-limit", type=Duration(), metavar="T", help="stop starting trainings after T (e.g. 900, 15m, 2h)"
    )
    parser.add_argument(
        "--seed", type=RANGES["seed"], default=0, help="seed of the strategy and of every training (default 0)"
    )
    parser.add_argument(
        "--storage", type=storage, metavar="URL", help="Optuna storage URL or SQLite file (default sqlite:///nas.db)"
    )
    parser.add_argument(
        "--study",
        type=new_study,
        metavar="NAME",
        help="study name (default: derived from the settings, so re-running the same command resumes it)",
    )
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda or cuda:N")
    parser.add_argument(
        "--epochs",
        type=RANGES["epochs"],
        default=None,
        help=f"proxy training epochs per candidate (default: the space's own, {_builtin('epochs')})",
    )
    parser.add_argument(
        "--final-epochs",
        type=RANGES["final_epochs"],
        default=DEFAULT_FINAL_EPOCHS,
        help=f"epochs of the chosen model's final training (default {DEFAULT_FINAL_EPOCHS:g}; 0 skips it)",
    )
    parser.add_argument(
        "--selection", default="accuracy", help="coordinate: accuracy or gain_per_compute (default accuracy)"
    )
    parser.add_argument(
        "--repeats",
        type=RANGES["repeats"],
        default=1,
        metavar="K",
        help=f"train every point under K seeds (1 to {MAX_REPEATS}); the ledger keeps each run, "
        "strategies see their mean and standard error (default 1)",
    )
    parser.add_argument(
        "--tie-rule",
        default="reseed",
        metavar="RULE",
        help="coordinate: what a step does when its best and runner-up are within the noise: reseed "
        "(more seeds for the tied candidates, then the cheapest), cheaper, or best (default reseed)",
    )
    parser.add_argument(
        "--tie-sigmas",
        type=RANGES["tie_sigmas"],
        default=DEFAULT_TIE_SIGMAS,
        metavar="Z",
        help=f"coordinate: a tie is a difference within Z standard errors (0 to 10; default {DEFAULT_TIE_SIGMAS:g})",
    )
    parser.add_argument(
        "--tie-max-runs",
        type=RANGES["tie_max_runs"],
        default=DEFAULT_TIE_MAX_RUNS,
        metavar="N",
        help=f"coordinate, reseed rule: at most N runs of a tied candidate (1 to 20; default {DEFAULT_TIE_MAX_RUNS})",
    )
    parser.add_argument(
        "--seed-spread",
        type=RANGES["seed_spread"],
        default=0.0,
        metavar="S",
        help="coordinate: a standard deviation of top-1 over training seeds assumed as a floor for every "
        "candidate's noise, so a single run is not trusted beyond the seed spread (0 to 1; default 0: "
        "the validation error and the measured runs only)",
    )
    parser.add_argument(
        "--lr",
        type=RANGES["lr"],
        default=None,
        metavar="LR",
        help=f"learning rate of the proxy training with AdamW (default: the space's own, {_builtin('lr')})",
    )
    parser.add_argument(
        "--threads",
        type=RANGES["threads"],
        default=2,
        help="CPU threads per training (part of the fingerprint; default 2)",
    )
    parser.add_argument(
        "--inherit",
        action="store_true",
        help="coordinate: start every candidate from its parent's trained weights, grown by the "
        "space's rules (copied, widened or deepened without changing what the network computes); "
        "the weights go to --checkpoints",
    )
    parser.add_argument(
        "--inherit-epochs",
        type=RANGES["inherit_epochs"],
        metavar="E",
        help="with --inherit: epochs of a candidate that starts from its parent (default: the proxy's "
        "--epochs); the base and candidates without a rule train the full proxy schedule",
    )
    parser.add_argument(
        "--checkpoints",
        type=output_folder("checkpoints"),
        metavar="DIR",
        help="with --inherit: the folder of the candidates' weights, one every worker reaches "
        "(default: beside a SQLite ledger, LEDGER.db.artifacts; a database ledger needs it)",
    )
    parser.add_argument(
        "--final-start",
        choices=("scratch", "search"),
        default="scratch",
        help="with --inherit: the chosen model's final training starts from scratch (default: it "
        "measures the architecture, as X3D's final models are trained) or from its search weights",
    )
    parser.add_argument(
        "--space-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting of the space's base network, e.g. base_crop=64 (repeatable)",
    )
    add_worker_options(parser)
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the outcome on stdout")
    parser.set_defaults(handler=run)


def add_worker_options(parser: argparse.ArgumentParser) -> None:
    """Options of every process that trains for a search (``nas search`` and ``nas worker``)."""
    from ..storage import DEFAULT_HEARTBEAT_SECONDS, DEFAULT_RETRY_SECONDS, GRACE_FACTOR

    parser.add_argument(
        "--heartbeat",
        type=RANGES["heartbeat"],
        metavar="S",
        help=f"seconds between a running trial's heartbeats (database storages); a trial silent for "
        f"{GRACE_FACTOR}x that is failed by the other workers and retried (default: the search's, "
        f"else {DEFAULT_HEARTBEAT_SECONDS})",
    )
    parser.add_argument(
        "--storage-retry",
        type=RANGES["storage_retry"],
        default=DEFAULT_RETRY_SECONDS,
        metavar="S",
        help=f"retry a lost storage connection for S seconds before giving up (default {DEFAULT_RETRY_SECONDS:g})",
    )


def config_of(args: argparse.Namespace) -> SearchConfig:
    """The validated search config of ``nas search`` arguments (the same object ``nas.search()`` builds)."""
    return SearchConfig.from_options(args, parse_options(args.space_option))


def run(args: argparse.Namespace) -> int:
    from estimators import distributed

    config = config_of(args)  # bad input fails before any process group or data
    group = join_process_group(args.device)
    if group is None:
        return _run_on_rank_zero(config, args.json, None)
    try:
        return follow(args.device) if not group.is_main else _run_on_rank_zero(config, args.json, group)
    except KeyboardInterrupt:
        distributed.leave(together=False)  # every rank got the Ctrl-C; none waits for the others
        raise
    finally:
        distributed.leave(together=True)  # rank 0 told the others to stop, on success and on its errors alike


def _run_on_rank_zero(config: SearchConfig, as_json: bool, group) -> int:
    """The search itself: alone, or as rank 0 of a torchrun launch that tells the other ranks what to train."""
    import optuna

    from estimators import distributed

    from ..engine import build_search, no_model_reason, run_search

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own lines say what happens
    try:
        search = build_search(config)
    except BaseException:
        if group is not None:
            distributed.broadcast(None)  # the other ranks stop too; this rank reports the error
        raise
    estimator = search.estimator
    if group is not None:
        distributed.broadcast(
            {
                "space": search.space.name,
                "space_settings": search.space.describe().get("settings") or {},
                "cache": str(estimator.cache.path),
                "schedule": asdict(estimator.schedule),
            }
        )
    try:
        _print_start(search)
        summary = run_search(search)
    finally:
        estimator.release_followers()
    outcome = summary.pop("outcome")
    _print_summary(summary)
    if as_json:
        print(json.dumps(summary, sort_keys=True))
    if summary["chosen"] is None and outcome.stopped == "finished":
        raise RunFailure(no_model_reason(outcome.history))
    return 0


def _print_start(search) -> None:
    from ..costs import unit_of

    ledger, estimator = search.ledger, search.estimator
    resumed = len(ledger.trials())
    unit = unit_of(ledger.config())
    logging.getLogger("nas.cli").info(
        f"{'resuming' if resumed else 'starting'} study {ledger.study_name!r} in {ledger.url}"
        f"{f' ({resumed} trials so far)' if resumed else ''}: {search.space.name} by {search.strategy.name}, target "
        f"{unit.show(search.strategy.target)}, {estimator.schedule.epochs:g} epochs per candidate on "
        f"{estimator.cache.path} ({estimator.device})"
    )


def join_process_group(device: str):
    """Under torchrun: join the process group (gloo on CPU, NCCL on GPUs) and return this rank; else None."""
    from estimators import distributed
    from estimators.proxy import resolve_device

    group = distributed.from_environment()
    if group is not None:
        distributed.initialise(group, "cuda" if resolve_device(device).startswith("cuda") else "cpu")
    return group


def follow(device: str) -> int:
    """A rank other than 0: the same space and training as rank 0's, training each point it announces; no ledger."""
    from estimators import distributed
    from spaces import get_space

    from ..engine import proxy_estimator

    setup = distributed.broadcast()
    if setup is None:
        return 1  # rank 0 could not start and says why
    space = get_space(setup["space"], **setup["space_settings"])
    proxy_estimator(setup["cache"], setup["schedule"], device).follow(space)
    return 0


def _print_summary(summary: dict[str, Any]) -> None:
    from ..progress import format_duration

    if summary["path"]:
        print_path(summary["path"])
    chosen = summary["chosen"]
    if chosen is None:
        print("no model chosen (no candidate completed)")
    else:
        latency = f", {chosen['latency_ms']:.3f} ms predicted" if "latency_ms" in chosen else ""
        print(f"chosen model: {chosen['point']}  ({chosen['gmacs']:.4f} GMACs{latency}, {chosen['params']:,} params)")
        if chosen["proxy_accuracy"] is not None:
            se = chosen.get("proxy_accuracy_se")
            print(
                f"  proxy top-1 {chosen['proxy_accuracy']:.3f}"
                + (f" ± {se:.3f} (standard error)" if se is not None else "")
            )
        if chosen["final_accuracy"] is not None:
            print(f"  final top-1 {chosen['final_accuracy']:.3f} after {chosen['final_epochs']:g} epochs")
    notes = {
        "budget": "the --budget was reached; re-run with a larger one to go on",
        "time limit": "the --time-limit was reached; re-run the same command to go on",
    }
    print(
        f"{summary['trained']} models trained ({summary['trained_now']} in this run), "
        f"{format_duration(summary['seconds'])} wall time; study {summary['study']!r} in {summary['storage']}"
        + (f"; {notes[summary['stopped']]}" if summary["stopped"] in notes else "")
    )
