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
import hashlib
import json
import sys
import time
from dataclasses import asdict
from typing import Any

from spaces.errors import NasError, RunFailure

from ..costs import add_cost_arguments, cost_config, resolve_target, unit_of
from ..strategies.coordinate import DEFAULT_TIE_MAX_RUNS, DEFAULT_TIE_SIGMAS
from ..values import (
    COUNT,
    DATA,
    EPOCHS,
    GFLOPS,
    MAX_EPOCHS,
    SEED,
    THREADS,
    Duration,
    Real,
    Whole,
    new_study,
    parse_duration,
    storage,
)
from .common import print_path

DEFAULT_EPOCHS, DEFAULT_FINAL_EPOCHS = 3.0, 40.0
MAX_REPEATS = 20  # nas.runner.MAX_REPEATS, kept here so building the parser imports no torch




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
    parser.add_argument("--data", type=DATA, metavar="CACHE",
                        help="clip cache folder, or 'synth[:key=value,...]' / 'synth-motion[:...]' / 'synth-image[:...]' for the "
                             "embedded synthetic scenes / motion-only clips / images (built on first use; e.g. synth:clips_per_class=50, "
                             "synth-image:images_per_class=50); default: the space's own (synth for x3d, synth-image for x2d-image)")
    parser.add_argument("--target-gflops", type=GFLOPS, metavar="G",
                        help=f"compute target in GMACs (multiply-adds) per clip (default: the space's own, {_builtin('target_gflops')})")
    add_cost_arguments(parser)
    parser.add_argument("--budget", type=COUNT, metavar="N", help="stop after N trained models (re-run with more to go on); open-ended strategies "
                             "such as random default to as many as the coordinate search plans")
    parser.add_argument("--time-limit", type=Duration(), metavar="T", help="stop starting trainings after T (e.g. 900, 15m, 2h)")
    parser.add_argument("--seed", type=SEED, default=0, help="seed of the strategy and of every training (default 0)")
    parser.add_argument("--storage", type=storage, metavar="URL", help="Optuna storage URL or SQLite file (default sqlite:///nas.db)")
    parser.add_argument("--study", type=new_study, metavar="NAME", help="study name (default: derived from the settings, so "
                                                        "re-running the same command resumes it)")
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda or cuda:N")
    parser.add_argument("--epochs", type=EPOCHS, default=None,
                        help=f"proxy training epochs per candidate (default: the space's own, {_builtin('epochs')})")
    parser.add_argument("--final-epochs", type=Real(0, MAX_EPOCHS), default=DEFAULT_FINAL_EPOCHS,
                        help=f"epochs of the chosen model's final training (default {DEFAULT_FINAL_EPOCHS:g}; 0 skips it)")
    parser.add_argument("--selection", default="accuracy", help="coordinate: accuracy or gain_per_compute (default accuracy)")
    parser.add_argument("--repeats", type=Whole(1, MAX_REPEATS), default=1, metavar="K",
                        help=f"train every point under K seeds (1 to {MAX_REPEATS}); the ledger keeps each run, "
                             "strategies see their mean and standard error (default 1)")
    parser.add_argument("--tie-rule", default="reseed", metavar="RULE",
                        help="coordinate: what a step does when its best and runner-up are within the noise: reseed "
                             "(more seeds for the tied candidates, then the cheapest), cheaper, or best (default reseed)")
    parser.add_argument("--tie-sigmas", type=Real(0, 10), default=DEFAULT_TIE_SIGMAS, metavar="Z",
                        help=f"coordinate: a tie is a difference within Z standard errors (0 to 10; default {DEFAULT_TIE_SIGMAS:g})")
    parser.add_argument("--tie-max-runs", type=Whole(1, MAX_REPEATS), default=DEFAULT_TIE_MAX_RUNS, metavar="N",
                        help=f"coordinate, reseed rule: at most N runs of a tied candidate (1 to 20; default {DEFAULT_TIE_MAX_RUNS})")
    parser.add_argument("--lr", type=Real(0, 100, low_open=True), default=None, metavar="LR",
                        help=f"learning rate of the proxy training with AdamW (default: the space's own, {_builtin('lr')})")
    parser.add_argument("--threads", type=THREADS, default=2, help="CPU threads per training (part of the fingerprint; default 2)")
    parser.add_argument("--space-option", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting of the space's base network, e.g. base_crop=64 (repeatable)")
    add_worker_options(parser)
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the outcome on stdout")
    parser.set_defaults(handler=run)


def add_worker_options(parser: argparse.ArgumentParser) -> None:
    """Options of every process that trains for a search (``nas search`` and ``nas worker``)."""
    from ..storage import DEFAULT_HEARTBEAT_SECONDS, DEFAULT_RETRY_SECONDS, GRACE_FACTOR

    parser.add_argument("--heartbeat", type=Whole(1, 3600), metavar="S",
                        help=f"seconds between a running trial's heartbeats (database storages); a trial silent for "
                             f"{GRACE_FACTOR}x that is failed by the other workers and retried (default: the search's, "
                             f"else {DEFAULT_HEARTBEAT_SECONDS})")
    parser.add_argument("--storage-retry", type=Real(0, 86_400), default=DEFAULT_RETRY_SECONDS, metavar="S",
                        help=f"retry a lost storage connection for S seconds before giving up (default {DEFAULT_RETRY_SECONDS:g})")


def ledger_options(args: argparse.Namespace) -> dict[str, Any]:
    from ..storage import RetryPolicy

    if args.heartbeat is not None and args.heartbeat < 1:
        raise NasError(f"--heartbeat must be at least 1 second, got {args.heartbeat}")
    if not args.storage_retry >= 0:
        raise NasError(f"--storage-retry must be 0 or more seconds, got {args.storage_retry}")
    return {"heartbeat": args.heartbeat, "retry": RetryPolicy(seconds=args.storage_retry)}


def parse_options(items: list[str], option: str = "--space-option") -> dict[str, Any]:
    """KEY=VALUE items (values read as YAML); ``option`` names the flag they came from in every message."""
    import yaml

    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise NasError(f"{option} {item!r} is not KEY=VALUE")
        if key in options:
            raise NasError(f"{option}: {key!r} is given twice; give each setting once")
        try:
            options[key] = yaml.safe_load(value)
        except yaml.YAMLError as error:
            problem = getattr(error, "problem", None) or "not a YAML value"
            raise NasError(f"{option} {item!r}: the value is not valid YAML ({problem}); quote it or write e.g. "
                           f"{key}=64 or {key}=[1,2,5,3]") from None
    return options


def proxy_defaults(space_name: str) -> dict[str, Any]:
    """The space's CPU proxy setting (``space`` options, ``target_gflops``) and its default ``data``."""
    from spaces import get_space

    space = get_space(space_name)
    return {"space": dict(space.proxy_defaults.get("space", {})), "target_gflops": space.proxy_defaults.get("target_gflops"),
            "schedule": {"epochs": DEFAULT_EPOCHS, **space.proxy_defaults.get("schedule", {})}, "data": space.default_data}


def proxy_schedule(defaults: dict[str, Any], epochs: float | None, lr: float | None) -> dict[str, Any]:
    """The space's proxy schedule with ``--epochs`` and ``--lr`` over it; bad values fail here, before any work."""
    if epochs is not None and not 0 < epochs < float("inf"):
        raise NasError(f"--epochs must be a positive number, got {epochs}")
    if lr is not None and not 0 < lr < float("inf"):
        raise NasError(f"--lr must be a positive number, got {lr}")
    given = {"epochs": epochs, "lr": lr}
    return {**defaults["schedule"], **{key: value for key, value in given.items() if value is not None}}


def is_synthetic(spec: str) -> bool:
    """Whether ``--data`` names an embedded synthetic dataset (``synth``, ``synth-image:size=32``) rather than a folder."""
    from estimators.data.generators import GENERATORS

    return spec.partition(":")[0] in GENERATORS


def plan_data(spec: str):
    """What ``--data`` names, opened without writing: (cache or None, synthetic settings or None, classes)."""
    from estimators.data.cache import ClipCache

    if is_synthetic(spec):
        from dataclasses import fields

        from estimators.data.generators import get_generator

        name, colon, text = spec.partition(":")
        if colon and not text.strip():
            raise NasError(f"--data {spec!r}: nothing after the colon; give settings (e.g. {name}:clips_per_class=50) "
                           f"or write --data {name} for the default")
        settings_type = get_generator(name).settings_type()
        known = {f.name for f in fields(settings_type)}
        options = parse_options([i for i in text.split(",") if i], option=f"--data {name}")
        unknown = sorted(set(options) - known)
        if unknown:
            raise NasError(f"--data {name}: unknown setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
        settings = settings_type(**options)
        return None, settings, settings.classes
    from estimators.files import input_folder

    from ..values import MAKE_CACHE

    cache = ClipCache(input_folder(spec, option="--data", example="cache", missing=MAKE_CACHE))
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

    return text if is_synthetic(text) else os.path.abspath(text)


def _config(args, space, strategy, estimator, target_macs: int) -> dict[str, Any]:
    """The study's identity: the same settings resume it, others are refused.  ``target_macs`` is in the cost's unit."""
    coordinate = strategy.name == "coordinate"
    ties = {"tie_rule": args.tie_rule, "tie_sigmas": args.tie_sigmas, "tie_max_runs": args.tie_max_runs} if coordinate else {}
    return {**cost_config(strategy.cost), "space": space.name, "space_version": space.version, "space_code": space.code_digest(),
            "space_settings": space.describe().get("settings"),
            "strategy": strategy.name, "selection": args.selection if coordinate else None, **ties,
            "repeats": args.repeats, "target_macs": target_macs, "seed": args.seed, "estimator": estimator.fingerprint(),
            "estimator_settings": estimator.settings()}


def _build(args: argparse.Namespace):
    """Space, strategy, estimator and ledger; every check that can fail runs before anything is written."""
    from estimators.proxy import resolve_device
    from spaces import get_space
    from spaces.registry import require_space

    from ..ledger import Ledger
    from ..runner import check_repeats
    from ..storage import DEFAULT_HEARTBEAT_SECONDS, check_storage, storage_url
    from ..strategies.registry import get_strategy_class

    require_space(args.space)  # unknown names fail before anything else is looked at
    strategy_class = get_strategy_class(args.strategy)
    check_repeats(args.repeats)
    options = ledger_options(args)
    options["heartbeat"] = options["heartbeat"] or DEFAULT_HEARTBEAT_SECONDS
    defaults = proxy_defaults(args.space)
    args.data = args.data or defaults["data"]  # the space's own data; stored resolved, so workers read the same
    proxy = proxy_schedule(defaults, args.epochs, args.lr)
    if args.final_epochs < 0:
        raise NasError(f"--final-epochs must not be negative, got {args.final_epochs}")
    if args.budget is not None and args.budget < 1:
        raise NasError(f"--budget must be at least 1 trained model, got {args.budget}")
    existing, synth_settings, classes = plan_data(args.data)
    space_options = {**defaults.get("space", {}), **parse_options(args.space_option), "num_classes": classes}
    space = get_space(args.space, **space_options)
    target, cost = resolve_target(args, space, defaults.get("target_gflops"))
    selection = ({"selection": args.selection, "tie_rule": args.tie_rule, "tie_sigmas": args.tie_sigmas,
                  "tie_max_runs": args.tie_max_runs} if args.strategy == "coordinate" else {})
    strategy = strategy_class(space, target_macs=target, seed=args.seed, cost=cost, **selection)
    device = resolve_device(args.device)
    url = storage_url(args.storage)
    check_storage(url)  # every check above runs before the data is built or the ledger written
    cache = open_data(existing, synth_settings)
    schedule = {**proxy, "seed": args.seed, "threads": args.threads}
    estimator = proxy_estimator(cache, schedule, device)
    if args.budget is None and not strategy.terminates:
        from ..strategies.coordinate import CoordinateExpansion

        # The same number of trained models as the coordinate search plans under this target: equal budgets.
        plan = CoordinateExpansion(space, target_macs=strategy.target_macs, cost=cost).planned_costs([])
        args.budget = len(plan) * args.repeats  # a budget counts trainings: each seed of a point is one
    config = _config(args, space, strategy, estimator, strategy.target_macs)
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:8]
    ledger = Ledger(url, args.study or f"{space.name}-{strategy.name}-{digest}", space, **options)
    ledger.open(config, {"data": data_spec(args.data), "budget": args.budget,  # what 'nas worker' reads
                         "heartbeat": options["heartbeat"]})
    return space, strategy, estimator, ledger


def run(args: argparse.Namespace) -> int:
    from estimators import distributed

    parse_duration(args.time_limit)  # bad input fails before any process group or data
    group = join_process_group(args.device)
    if group is None:
        return _run_on_rank_zero(args, None)
    try:
        return follow(args) if not group.is_main else _run_on_rank_zero(args, group)
    except KeyboardInterrupt:
        distributed.leave(together=False)  # every rank got the Ctrl-C; none waits for the others
        raise
    finally:
        distributed.leave(together=True)  # rank 0 told the others to stop, on success and on its errors alike


def _run_on_rank_zero(args: argparse.Namespace, group) -> int:
    """The search itself: alone, or as rank 0 of a torchrun launch that tells the other ranks what to train."""
    import optuna

    from estimators import distributed

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own lines say what happens
    try:
        space, strategy, estimator, ledger = _build(args)
    except BaseException:
        if group is not None:
            distributed.broadcast(None)  # the other ranks stop too; this rank reports the error
        raise
    if group is not None:
        distributed.broadcast({"space": space.name, "space_settings": space.describe().get("settings") or {},
                               "cache": str(estimator.cache.path), "schedule": asdict(estimator.schedule)})
    try:
        return _search(args, space, strategy, estimator, ledger)
    finally:
        estimator.release_followers()


def join_process_group(device: str):
    """Under torchrun: join the process group (gloo on CPU, NCCL on GPUs) and return this rank; else None."""
    from estimators import distributed
    from estimators.proxy import resolve_device

    group = distributed.from_environment()
    if group is not None:
        distributed.initialise(group, "cuda" if resolve_device(device).startswith("cuda") else "cpu")
    return group


def follow(args: argparse.Namespace) -> int:
    """A rank other than 0: the same space and training as rank 0's, training each point it announces; no ledger."""
    from estimators import distributed
    from spaces import get_space

    setup = distributed.broadcast()
    if setup is None:
        return 1  # rank 0 could not start and says why
    space = get_space(setup["space"], **setup["space_settings"])
    proxy_estimator(setup["cache"], setup["schedule"], args.device).follow(space)
    return 0


def _search(args: argparse.Namespace, space, strategy, estimator, ledger) -> int:
    from ..progress import SearchProgress
    from ..runner import SearchRunner

    started = time.monotonic()
    time_limit = parse_duration(args.time_limit)
    resumed = len(ledger.trials())
    unit = unit_of(ledger.config())
    print(f"{'resuming' if resumed else 'starting'} study {ledger.study_name!r} in {ledger.url}"
          f"{f' ({resumed} trials so far)' if resumed else ''}: {space.name} by {strategy.name}, target "
          f"{unit.show(strategy.target_macs)}, {estimator.schedule.epochs:g} epochs per candidate on "
          f"{estimator.cache.path} ({estimator.device})", file=sys.stderr, flush=True)
    runner = SearchRunner(space, strategy, estimator, ledger, budget=args.budget, time_limit=time_limit,
                          final_epochs=args.final_epochs or None, progress=SearchProgress(), repeats=args.repeats)
    outcome = runner.run()
    summary = _summary(space, strategy, ledger, outcome, time.monotonic() - started)
    summary["cost"] = unit.label
    ledger.set_attr("expansion_path", summary["path"])  # the path, readable without this code (dashboard, reports)
    ledger.set_attr("chosen", summary["chosen"])
    _print_summary(summary)
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    if summary["chosen"] is None and outcome.stopped == "finished":
        raise RunFailure(no_model_reason(outcome.history))
    return 0


def no_model_reason(history) -> str:
    """Why a finished search chose nothing: the failure of the first trial that failed for good."""
    failed = [r for r in history if r.state == "failed" and r.settled]
    if not failed:
        return "the search finished without a completed candidate; see 'nas report'"
    reason = str(failed[0].attrs.get("fail_reason", "unknown"))
    hint = ("run again with a lower --lr (a new schedule starts a new study)" if "diverged" in reason or "became nan" in reason.lower()
            else "see 'nas report' for every trial's reason")
    return f"the search finished without a model: {len(failed)} of {len(history)} trainings failed (first: {reason}); {hint}"


def _summary(space, strategy, ledger, outcome, seconds: float) -> dict[str, Any]:
    from ..report import expansion_path, latency_of
    from ..runner import trained_count
    from ..strategies.base import accuracy_se

    path = expansion_path(strategy, outcome.history)
    chosen = outcome.chosen
    final = outcome.final
    return {
        "study": ledger.study_name, "storage": ledger.url, "stopped": outcome.stopped, "seconds": round(seconds, 1),
        "trained": trained_count(outcome.runs or outcome.history), "trained_now": outcome.trained_now,
        "path": path,
        "chosen": None if chosen is None else {
            "point": chosen.key, "gmacs": space.complexity(chosen).macs / 1e9, "params": space.complexity(chosen).params,
            **latency_of(strategy, chosen),
            "proxy_accuracy": outcome.chosen_record.accuracy if outcome.chosen_record else None,
            "proxy_accuracy_se": accuracy_se(outcome.chosen_record) if outcome.chosen_record else None,
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
        latency = f", {chosen['latency_ms']:.3f} ms predicted" if "latency_ms" in chosen else ""
        print(f"chosen model: {chosen['point']}  ({chosen['gmacs']:.4f} GMACs{latency}, {chosen['params']:,} params)")
        if chosen["proxy_accuracy"] is not None:
            se = chosen.get("proxy_accuracy_se")
            print(f"  proxy top-1 {chosen['proxy_accuracy']:.3f}" + (f" ± {se:.3f} (standard error)" if se is not None else ""))
        if chosen["final_accuracy"] is not None:
            print(f"  final top-1 {chosen['final_accuracy']:.3f} after {chosen['final_epochs']:g} epochs")
    notes = {"budget": "the --budget was reached; re-run with a larger one to go on",
             "time limit": "the --time-limit was reached; re-run the same command to go on"}
    print(f"{summary['trained']} models trained ({summary['trained_now']} in this run), "
          f"{format_duration(summary['seconds'])} wall time; study {summary['study']!r} in {summary['storage']}"
          + (f"; {notes[summary['stopped']]}" if summary["stopped"] in notes else ""))
