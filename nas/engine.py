"""The engine under ``nas search``, ``nas worker``, ``nas bench`` and the Python API: no argparse below this line.

It turns a :class:`~nas.config.SearchConfig` into the space, strategy,
estimator and ledger of a search (every check first, then the data, then the
ledger), runs it, and says what it found.  The command line only parses
arguments into a config and prints what this module returns.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from dataclasses import dataclass, replace
from typing import Any

from spaces.errors import NasError

from .config import SearchConfig
from .costs import cost_config, resolve_target, target_key
from .values import parse_options

#: Proxy epochs of a space that sets none.
DEFAULT_EPOCHS = 3.0


def ledger_options(heartbeat: int | None, storage_retry: float) -> dict[str, Any]:
    """The ledger's heartbeat (seconds, None: the search's) and how long it retries a lost storage."""
    from .storage import RetryPolicy

    return {"heartbeat": heartbeat, "retry": RetryPolicy(seconds=storage_retry)}


def proxy_defaults(space_name: str) -> dict[str, Any]:
    """The space's CPU proxy setting (``space`` options, ``target_gflops``) and its default ``data``."""
    from spaces import get_space

    space = get_space(space_name)
    return {
        "space": dict(space.proxy_defaults.get("space", {})),
        "target_gflops": space.proxy_defaults.get("target_gflops"),
        "schedule": {"epochs": DEFAULT_EPOCHS, **space.proxy_defaults.get("schedule", {})},
        "data": space.default_data,
    }


def proxy_schedule(defaults: dict[str, Any], epochs: float | None, lr: float | None) -> dict[str, Any]:
    """The space's proxy schedule with ``epochs`` and ``lr`` over it; bad values fail here, before any work."""
    if epochs is not None and not 0 < epochs < float("inf"):
        raise NasError(f"--epochs must be a positive number, got {epochs}")
    if lr is not None and not 0 < lr < float("inf"):
        raise NasError(f"--lr must be a positive number, got {lr}")
    given = {"epochs": epochs, "lr": lr}
    return {**defaults["schedule"], **{key: value for key, value in given.items() if value is not None}}


def is_synthetic(spec: str) -> bool:
    """Whether ``--data`` names an embedded synthetic dataset (``synth``, ``synth-image:size=32``)
    rather than a folder."""
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
            raise NasError(
                f"--data {spec!r}: nothing after the colon; give settings (e.g. {name}:clips_per_class=50) "
                f"or write --data {name} for the default"
            )
        settings_type = get_generator(name).settings_type()
        known = {f.name for f in fields(settings_type)}
        options = parse_options([i for i in text.split(",") if i], option=f"--data {name}")
        unknown = sorted(set(options) - known)
        if unknown:
            raise NasError(f"--data {name}: unknown setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
        settings = settings_type(**options)
        return None, settings, settings.classes
    from estimators.files import input_folder

    from .values import MAKE_CACHE

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


def study_config(config: SearchConfig, space, strategy, estimator, target: int) -> dict[str, Any]:
    """The study's identity: the same settings resume it, others are refused.

    ``target`` is in the cost's unit, and stored under a key naming it: ``target_macs`` or ``target_us``.
    """
    coordinate = "tie_rule" in strategy.own_options
    ties = (
        {
            "tie_rule": config.tie_rule,
            "tie_sigmas": config.tie_sigmas,
            "tie_max_runs": config.tie_max_runs,
            **({"seed_spread": config.seed_spread} if config.seed_spread else {}),
        }  # 0: the identity it always had
        if coordinate
        else {}
    )
    return {
        **cost_config(strategy.cost),
        "space": space.name,
        "space_version": space.version,
        "space_code": space.code_digest(),
        "space_settings": space.describe().get("settings"),
        "strategy": strategy.name,
        "selection": config.selection if coordinate else None,
        **ties,
        "repeats": config.repeats,
        target_key(strategy.cost): target,
        "seed": config.seed,
        "estimator": estimator.fingerprint(),
        "estimator_settings": estimator.settings(),
    }


@dataclass
class Search:
    """A search ready to run: its resolved config (data and budget filled in) and what it runs with."""

    config: SearchConfig
    space: Any
    strategy: Any
    estimator: Any
    ledger: Any
    checkpoints: Any = None  # the store of trained weights (inherited weights only)


def check_inherit(config: SearchConfig, strategy: Any) -> None:
    """``--inherit`` and its options, checked before any data is built or anything written."""
    if not config.inherit:
        if config.checkpoints is not None:
            raise NasError("--checkpoints is for searches with --inherit: add it, or drop --checkpoints")
        return
    from estimators.distributed import current

    if not strategy.names_parents:
        raise NasError(
            f"--inherit needs a strategy whose candidates grow from a parent (coordinate); "
            f"{strategy.name!r} proposes points without one"
        )
    if current() is not None:
        raise NasError("--inherit is not supported under torchrun; run the search without it there")


def checkpoint_store(config: SearchConfig, url: str, ledger: Any):
    """Where an inheriting search keeps its weights (None without ``--inherit``), before its ledger is written.

    A resumed search keeps the folder its study names unless given another; another one must hold the
    checkpoints the study's trials reference (the same shared disk, mounted elsewhere).
    """
    if not config.inherit:
        return None
    from .checkpoints import CheckpointStore, check_same_store, default_folder

    stored = ledger.attr("checkpoints")
    folder = config.checkpoints or stored or default_folder(url)
    if folder is None:
        raise NasError(
            "a database ledger needs --checkpoints DIR for --inherit: a folder every worker can reach "
            "(the weights of every candidate go there)"
        )
    store = CheckpointStore.in_folder(folder)
    if stored and store.where != stored:
        check_same_store(store, referenced_checkpoints(ledger), stored)
    return store


def referenced_checkpoints(ledger: Any) -> list[dict[str, Any]]:
    """The checkpoints the study's finished trials reference."""
    return [r.attrs["checkpoint"] for r in ledger.records() if r.state == "complete" and "checkpoint" in r.attrs]


def build_search(config: SearchConfig) -> Search:
    """Space, strategy, estimator and ledger; every check that can fail runs before anything is written."""
    import optuna

    from estimators.proxy import resolve_device
    from spaces import get_space
    from spaces.registry import require_space

    from .ledger import Ledger
    from .runner import check_repeats
    from .storage import DEFAULT_HEARTBEAT_SECONDS, check_storage, storage_url
    from .strategies.registry import get_strategy_class

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the search's own lines say what happens
    require_space(config.space)  # unknown names fail before anything else is looked at
    strategy_class = get_strategy_class(config.strategy)
    check_repeats(config.repeats)
    options = ledger_options(config.heartbeat, config.storage_retry)
    options["heartbeat"] = options["heartbeat"] or DEFAULT_HEARTBEAT_SECONDS
    defaults = proxy_defaults(config.space)
    config = replace(config, data=config.data or defaults["data"])  # stored resolved, so workers read the same
    proxy = proxy_schedule(defaults, config.epochs, config.lr)
    existing, synth_settings, classes = plan_data(config.data)
    space = get_space(config.space, **{**defaults.get("space", {}), **config.space_options, "num_classes": classes})
    target, cost = resolve_target(config, space, defaults.get("target_gflops"))
    own = {key: getattr(config, key) for key in strategy_class.own_options if hasattr(config, key)}
    strategy = strategy_class(space, target=target, seed=config.seed, cost=cost, **own)
    if strategy.pruner is not None:
        from .pruning import make_pruner

        make_pruner(strategy.pruner, float(proxy["epochs"]))  # too few epochs to prune: refused before any write
    device = resolve_device(config.device)
    url = storage_url(config.storage)
    check_storage(url)  # every check above runs before the data is built or the ledger written
    check_inherit(config, strategy)
    cache = open_data(existing, synth_settings)
    inherit = {"inherit": True, "inherit_epochs": config.inherit_epochs} if config.inherit else {}
    estimator = proxy_estimator(cache, {**proxy, "seed": config.seed, "threads": config.threads, **inherit}, device)
    if config.budget is None and not strategy.terminates:
        from .strategies.coordinate import CoordinateExpansion

        # The same number of trained models as the coordinate search plans under this target: equal budgets.
        plan = CoordinateExpansion(space, target=strategy.target, cost=cost).planned_costs([])
        config = replace(config, budget=len(plan) * config.repeats)  # a budget counts trainings: each seed is one
    identity = study_config(config, space, strategy, estimator, strategy.target)
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:8]
    ledger = Ledger(url, config.study or f"{space.name}-{strategy.name}-{digest}", space, **options)
    checkpoints = checkpoint_store(config, url, ledger)
    stored = ledger.attr("checkpoints") or (checkpoints.where if checkpoints else None)  # the study's own folder
    with checkpoints.created_for() if checkpoints else contextlib.nullcontext():
        ledger.open(
            identity,
            {
                "data": data_spec(config.data),
                "budget": config.budget,  # what 'nas worker' reads
                "heartbeat": options["heartbeat"],
                **({"checkpoints": stored} if checkpoints else {}),
            },
        )
    return Search(config, space, strategy, estimator, ledger, checkpoints)


def run_search(search: Search, progress=None) -> dict[str, Any]:
    """Run (or resume) a built search; its summary (what ``nas search --json`` prints), stored in the ledger too."""
    from .costs import unit_of
    from .progress import SearchProgress
    from .runner import SearchRunner

    started = time.monotonic()
    config, ledger = search.config, search.ledger
    runner = SearchRunner(
        search.space,
        search.strategy,
        search.estimator,
        ledger,
        budget=config.budget,
        time_limit=config.time_limit,
        final_epochs=config.final_epochs or None,
        progress=progress or SearchProgress(),
        repeats=config.repeats,
        checkpoints=search.checkpoints,
        final_start=config.final_start,
    )
    outcome = runner.run()
    result = summary(search.space, search.strategy, ledger, outcome, time.monotonic() - started)
    result["cost"] = unit_of(ledger.config()).label
    ledger.set_attr("expansion_path", result["path"])  # the path, readable without this code (dashboard, reports)
    ledger.set_attr("chosen", result["chosen"])
    result["outcome"] = outcome
    return result


def no_model_reason(history) -> str:
    """Why a finished search chose nothing: the failure of the first trial that failed for good."""
    failed = [r for r in history if r.state == "failed" and r.settled]
    if not failed:
        return "the search finished without a completed candidate; see 'nas report'"
    reason = str(failed[0].attrs.get("fail_reason", "unknown"))
    hint = (
        "run again with a lower --lr (a new schedule starts a new study)"
        if "diverged" in reason or "became nan" in reason.lower()
        else "see 'nas report' for every trial's reason"
    )
    return (
        f"the search finished without a model: {len(failed)} of {len(history)} trainings failed "
        f"(first: {reason}); {hint}"
    )


def summary(space, strategy, ledger, outcome, seconds: float) -> dict[str, Any]:
    """What a search found: its path, the chosen point with its cost and accuracies, how far it got."""
    from .report import expansion_path, latency_of
    from .runner import trained_count
    from .strategies.base import accuracy_se

    chosen, final = outcome.chosen, outcome.final
    return {
        "study": ledger.study_name,
        "storage": ledger.url,
        "stopped": outcome.stopped,
        "seconds": round(seconds, 1),
        "trained": trained_count(outcome.runs or outcome.history),
        "trained_now": outcome.trained_now,
        "path": expansion_path(strategy, outcome.history),
        "chosen": None
        if chosen is None
        else {
            "point": chosen.key,
            "gmacs": space.complexity(chosen).macs / 1e9,
            "params": space.complexity(chosen).params,
            **latency_of(strategy, chosen),
            "proxy_accuracy": outcome.chosen_record.accuracy if outcome.chosen_record else None,
            "proxy_accuracy_se": accuracy_se(outcome.chosen_record) if outcome.chosen_record else None,
            "final_accuracy": final.accuracy if final and final.state == "complete" else None,
            "final_epochs": final.attrs.get("fidelity") if final else None,
        },
    }
