"""``nas search``: run (or resume) a search and print its path and chosen model.

With no argument but ``--space x3d --strategy coordinate`` it runs on the
embedded synthetic clip cache (built on first use) with a proxy setting
sized for a 2-core CPU: an X2D with stages of 1, 1, 2, 1 blocks at a 48^2
base crop and a stride of 8 frames, 3 training epochs per candidate, a
0.025 GMACs target (three expansion steps inside it, a fourth that
overshoots and is contracted back onto it where a point between fits), then
the chosen model trained for 40 epochs: candidates are ranked on a short
schedule, as in X3D, and the chosen one is then trained properly.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from typing import Any

from spaces.errors import NasError

from .common import print_path

#: Per-space proxy settings: the base network shrunk for a CPU, and a target a few steps above it.
PROXY_DEFAULTS: dict[str, dict[str, Any]] = {
    "x3d": {"space": {"base_crop": 48, "base_stride": 8, "stage_blocks": [1, 1, 2, 1], "head_width": 256, "dropout": 0.2},
            "target_gflops": 0.025},
}
DEFAULT_EPOCHS, DEFAULT_FINAL_EPOCHS = 3.0, 40.0


def proxy_defaults(space_name: str) -> dict[str, Any]:
    """The proxy setting of a space: the table above, else what the space states itself (plugins); may be empty."""
    if space_name in PROXY_DEFAULTS:
        return PROXY_DEFAULTS[space_name]
    from spaces import get_space

    return dict(get_space(space_name).proxy_defaults or {})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("search", help="search a space with a strategy (resumes a killed search)")
    parser.add_argument("--space", default="x3d", help="space name (see 'nas space list'; default x3d)")
    parser.add_argument("--strategy", default="coordinate", help="strategy name (default coordinate)")
    parser.add_argument("--data", default="synth", metavar="CACHE",
                        help="clip cache folder, or 'synth[:key=value,...]' for the embedded synthetic data "
                             "(built on first use; keys as 'nas data synth', e.g. synth:clips_per_class=50)")
    parser.add_argument("--target-gflops", type=float, metavar="G",
                        help="compute target in GMACs (multiply-adds) per clip (x3d proxy default 0.02)")
    parser.add_argument("--budget", type=int, metavar="N", help="stop after N trained models (re-run with more to go on); open-ended strategies "
                             "such as random default to as many as the coordinate search plans")
    parser.add_argument("--time-limit", metavar="T", help="stop starting trainings after T (e.g. 900, 15m, 2h)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the strategy and of every training (default 0)")
    parser.add_argument("--storage", metavar="URL", help="Optuna storage URL or SQLite file (default sqlite:///nas.db)")
    parser.add_argument("--study", metavar="NAME", help="study name (default: derived from the settings, so "
                                                        "re-running the same command resumes it)")
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda or cuda:N")
    parser.add_argument("--epochs", type=float, default=DEFAULT_EPOCHS, help=f"proxy training epochs per candidate (default {DEFAULT_EPOCHS:g})")
    parser.add_argument("--final-epochs", type=float, default=DEFAULT_FINAL_EPOCHS,
                        help=f"epochs of the chosen model's final training (default {DEFAULT_FINAL_EPOCHS:g}; 0 skips it)")
    parser.add_argument("--selection", default="accuracy", help="coordinate: accuracy or gain_per_compute (default accuracy)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads per training (part of the fingerprint; default 2)")
    parser.add_argument("--space-option", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting of the space's base network, e.g. base_crop=64 (repeatable)")
    add_worker_options(parser)
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the outcome on stdout")
    parser.set_defaults(handler=run)


def add_worker_options(parser: argparse.ArgumentParser) -> None:
    """Options of every process that trains for a search (``nas search`` and ``nas worker``)."""
    from ..storage import DEFAULT_HEARTBEAT_SECONDS, DEFAULT_RETRY_SECONDS, GRACE_FACTOR

    parser.add_argument("--heartbeat", type=int, metavar="S",
                        help=f"seconds between a running trial's heartbeats (database storages); a trial silent for "
                             f"{GRACE_FACTOR}x that is failed by the other workers and retried (default: the search's, "
                             f"else {DEFAULT_HEARTBEAT_SECONDS})")
    parser.add_argument("--storage-retry", type=float, default=DEFAULT_RETRY_SECONDS, metavar="S",
                        help=f"retry a lost storage connection for S seconds before giving up (default {DEFAULT_RETRY_SECONDS:g})")


def ledger_options(args: argparse.Namespace) -> dict[str, Any]:
    from ..storage import RetryPolicy

    if args.heartbeat is not None and args.heartbeat < 1:
        raise NasError(f"--heartbeat must be at least 1 second, got {args.heartbeat}")
    if not args.storage_retry >= 0:
        raise NasError(f"--storage-retry must be 0 or more seconds, got {args.storage_retry}")
    return {"heartbeat": args.heartbeat, "retry": RetryPolicy(seconds=args.storage_retry)}


def parse_duration(text: str | None) -> float | None:
    if text is None:
        return None
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise NasError(f"--time-limit {text!r} is not a positive duration; write e.g. 900, 90s, 15m or 2h")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def parse_options(items: list[str]) -> dict[str, Any]:
    import yaml

    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise NasError(f"--space-option {item!r} is not KEY=VALUE")
        options[key.strip()] = yaml.safe_load(value)
    return options


def plan_data(spec: str):
    """What ``--data`` names, opened without writing: (cache or None, synthetic settings or None, classes)."""
    from estimators.data.cache import ClipCache

    if spec == "synth" or spec.startswith("synth:"):
        from dataclasses import fields

        from estimators.data.synthetic import SynthSettings

        known = {f.name for f in fields(SynthSettings)}
        options = parse_options([i for i in spec[6:].split(",") if i]) if ":" in spec else {}
        unknown = sorted(set(options) - known)
        if unknown:
            raise NasError(f"--data synth: unknown setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
        settings = SynthSettings(**options)
        return None, settings, settings.classes
    cache = ClipCache(spec)
    return cache, None, len(cache.classes)


def open_data(cache, synth_settings):
    """The clip cache, building the synthetic default first if no process has yet."""
    if cache is not None:
        return cache
    from estimators.data.cache import ClipCache
    from estimators.data.default import ensure_default_cache

    return ClipCache(ensure_default_cache(synth_settings, workers=2))


def proxy_estimator(cache, schedule: dict[str, Any], device: str):
    from estimators.proxy import ProxyAccuracy, ProxySchedule

    return ProxyAccuracy(cache, ProxySchedule(**schedule), device=device)


def data_spec(text: str) -> str:
    """``--data`` as other workers (other folders, other machines) should read it: a cache path made absolute."""
    import os

    return text if text == "synth" or text.startswith("synth:") else os.path.abspath(text)


def _config(args, space, strategy, estimator, target_macs: int) -> dict[str, Any]:
    return {"space": space.name, "space_version": space.version, "space_settings": space.describe().get("settings"),
            "strategy": strategy.name, "selection": args.selection if strategy.name == "coordinate" else None,
            "target_macs": target_macs, "seed": args.seed, "estimator": estimator.fingerprint(),
            "estimator_settings": estimator.settings()}


def _build(args: argparse.Namespace):
    """Space, strategy, estimator and ledger; every check that can fail runs before anything is written."""
    from estimators.proxy import resolve_device
    from spaces import get_space

    from ..ledger import Ledger
    from ..storage import DEFAULT_HEARTBEAT_SECONDS, check_storage, storage_url
    from ..strategies.registry import get_strategy_class

    strategy_class = get_strategy_class(args.strategy)  # an unknown name fails before any data is built
    options = ledger_options(args)
    options["heartbeat"] = options["heartbeat"] or DEFAULT_HEARTBEAT_SECONDS
    defaults = proxy_defaults(args.space)
    target_gflops = args.target_gflops if args.target_gflops is not None else defaults.get("target_gflops")
    if target_gflops is None:
        raise NasError(f"space {args.space!r} has no default compute target; give --target-gflops")
    if not target_gflops > 0:
        raise NasError(f"--target-gflops must be positive, got {target_gflops}")
    if args.epochs <= 0 or args.final_epochs < 0:
        raise NasError(f"--epochs must be positive and --final-epochs not negative (got {args.epochs}, {args.final_epochs})")
    if args.budget is not None and args.budget < 1:
        raise NasError(f"--budget must be at least 1 trained model, got {args.budget}")
    existing, synth_settings, classes = plan_data(args.data)
    space_options = {**defaults.get("space", {}), **parse_options(args.space_option), "num_classes": classes}
    space = get_space(args.space, **space_options)
    selection = {"selection": args.selection} if args.strategy == "coordinate" else {}
    strategy = strategy_class(space, target_macs=round(target_gflops * 1e9), seed=args.seed, **selection)
    device = resolve_device(args.device)
    url = storage_url(args.storage)
    check_storage(url)  # every check above runs before the data is built or the ledger written
    cache = open_data(existing, synth_settings)
    estimator = proxy_estimator(cache, {"epochs": args.epochs, "seed": args.seed, "threads": args.threads}, device)
    if args.budget is None and not strategy.terminates:
        from ..strategies.coordinate import CoordinateExpansion

        # The same number of trained models as the coordinate search plans under this target: equal budgets.
        args.budget = len(CoordinateExpansion(space, target_macs=strategy.target_macs).planned_costs([]))
    config = _config(args, space, strategy, estimator, strategy.target_macs)
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:8]
    ledger = Ledger(url, args.study or f"{space.name}-{strategy.name}-{digest}", space, **options)
    ledger.open(config, {"data": data_spec(args.data), "budget": args.budget,  # what 'nas worker' reads
                         "heartbeat": options["heartbeat"]})
    return space, strategy, estimator, ledger


def run(args: argparse.Namespace) -> int:
    import optuna

    from ..progress import SearchProgress
    from ..runner import SearchRunner

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started = time.monotonic()
    time_limit = parse_duration(args.time_limit)
    space, strategy, estimator, ledger = _build(args)
    resumed = len(ledger.trials())
    print(f"{'resuming' if resumed else 'starting'} study {ledger.study_name!r} in {ledger.url}"
          f"{f' ({resumed} trials so far)' if resumed else ''}: {space.name} by {strategy.name}, target "
          f"{strategy.target_macs / 1e9:.4g} GMACs, {estimator.schedule.epochs:g} epochs per candidate on "
          f"{estimator.cache.path} ({estimator.device})", file=sys.stderr, flush=True)
    runner = SearchRunner(space, strategy, estimator, ledger, budget=args.budget, time_limit=time_limit,
                          final_epochs=args.final_epochs or None, progress=SearchProgress())
    outcome = runner.run()
    summary = _summary(space, strategy, ledger, outcome, time.monotonic() - started)
    ledger.set_attr("expansion_path", summary["path"])  # the path, readable without this code (dashboard, reports)
    ledger.set_attr("chosen", summary["chosen"])
    _print_summary(summary)
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    return 0


def _summary(space, strategy, ledger, outcome, seconds: float) -> dict[str, Any]:
    from ..report import expansion_path
    from ..runner import trained_count

    path = expansion_path(strategy, outcome.history)
    chosen = outcome.chosen
    final = outcome.final
    return {
        "study": ledger.study_name, "storage": ledger.url, "stopped": outcome.stopped, "seconds": round(seconds, 1),
        "trained": trained_count(outcome.history), "trained_now": outcome.trained_now,
        "path": path,
        "chosen": None if chosen is None else {
            "point": chosen.key, "gmacs": strategy.cost(chosen) / 1e9, "params": space.complexity(chosen).params,
            "proxy_accuracy": outcome.chosen_record.accuracy if outcome.chosen_record else None,
            "final_accuracy": final.accuracy if final and final.state == "complete" else None,
            "final_epochs": final.attrs.get("fidelity") if final else None,
        },
    }


def _print_summary(summary: dict[str, Any]) -> None:
    from ..progress import format_duration

    if summary["path"]:
        print_path(summary["path"])
    chosen = summary["chosen"]
    if chosen is None:
        print("no model chosen (no candidate completed)")
    else:
        print(f"chosen model: {chosen['point']}  ({chosen['gmacs']:.4f} GMACs, {chosen['params']:,} params)")
        if chosen["proxy_accuracy"] is not None:
            print(f"  proxy top-1 {chosen['proxy_accuracy']:.3f}")
        if chosen["final_accuracy"] is not None:
            print(f"  final top-1 {chosen['final_accuracy']:.3f} after {chosen['final_epochs']:g} epochs")
    notes = {"budget": "the --budget was reached; re-run with a larger one to go on",
             "time limit": "the --time-limit was reached; re-run the same command to go on"}
    print(f"{summary['trained']} models trained ({summary['trained_now']} in this run), "
          f"{format_duration(summary['seconds'])} wall time; study {summary['study']!r} in {summary['storage']}"
          + (f"; {notes[summary['stopped']]}" if summary["stopped"] in notes else ""))
