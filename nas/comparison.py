"""Comparing strategies on equal budgets against the tabular benchmark (lookup, then predictor).

Every strategy runs once per benchmark seed with the same budget of trained
models; a run is the sequence of models it trained, in order, with their
accuracy, compute and simulated training time.  The tables and plots of
``nas bench compare`` are computed from those runs alone (see
:mod:`nas.metrics`), so they are as deterministic as the strategies are.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from estimators.base import Estimator
from spaces import Point, SearchSpace
from spaces.errors import NasError

from .loop import (
    LoopSettings,
    MemoryTrials,
    RunLoop,
    StrategyStalled,
    estimator_evaluate,
)
from .metrics import average_ranks, best_so_far, holm, hypervolume, mean_and_sem, models_to_reach, wilcoxon_p
from .strategies.base import TrialRecord
from .strategies.registry import get_strategy_class


@dataclass
class Run:
    """One strategy, one benchmark seed: the trained models in order."""

    strategy: str
    seed: int
    points: list[Point] = field(default_factory=list)
    accuracies: list[float | None] = field(default_factory=list)  # None: failed in training, or pruned
    costs: list[int] = field(default_factory=list)  # in the strategy's unit: MACs, or whole µs under latency
    seconds: list[float] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # what answered: "table", "predictor", ...
    history: list[TrialRecord] = field(
        default_factory=list
    )  # every record, failed-for-free ones too (a strategy replays it)

    def add(self, point: Point, accuracy: float | None, cost: int, seconds: float, source: str = "") -> None:
        self.points.append(point)
        self.accuracies.append(accuracy)
        self.costs.append(cost)
        self.seconds.append(seconds)
        self.sources.append(source)

    def table_share(self) -> float:
        """Fraction of the trained models the table answered (the rest: the predictor)."""
        return sum(s == "table" for s in self.sources) / len(self.sources) if self.sources else math.nan


def run_strategy(
    space: SearchSpace,
    name: str,
    seed: int,
    estimator: Estimator,
    *,
    target: int,
    budget: int,
    cost: Callable[[Point], int] | None = None,
    **options: Any,
) -> Run:
    """Let ``name`` propose until it has trained ``budget`` models (or is finished);
    points that fail for free cost nothing.

    The run loop is the live search's (:class:`nas.loop.RunLoop`), with the
    trials in memory, one at a time.  ``cost`` and ``target`` are in one
    unit (MACs by default; microseconds with a latency cost); ``options`` go to
    the strategy (``selection`` for coordinate).
    """
    strategy = get_strategy_class(name)(space, target=target, seed=seed, cost=cost, **options)
    pruner = simulated_pruner(strategy, estimator)
    trials = MemoryTrials(strategy.cost_of, pruner=pruner)
    on_epoch = trials.on_epoch if pruner is not None else None
    loop = RunLoop(
        strategy,
        estimator_evaluate(space, estimator, on_epoch=on_epoch),
        trials,
        LoopSettings(budget=budget, max_proposals=50 * budget),
    )
    try:
        loop.run()
    except StrategyStalled:
        pass  # proposes nothing more: the run ends with what it trained
    return run_of(name, seed, trials.done)


def simulated_pruner(strategy: Any, estimator: Estimator) -> Any:
    """A pruning strategy's Optuna pruner, sized to the table's epochs (None for a strategy that does not prune).

    The table's stored learning curves are replayed epoch by epoch, so the pruner stops a simulated training where
    it would have stopped the live one, and the run pays the seconds stored up to that epoch.
    """
    if strategy.pruner is None:
        return None
    from .pruning import make_pruner

    epochs = getattr(estimator, "epochs", None)
    if epochs is None or epochs < 2 or not getattr(estimator, "has_curves", False):
        raise NasError(
            f"strategy {strategy.name!r} prunes trainings by their per-epoch top-1, which needs a "
            f"benchmark table with learning curves of at least 2 epochs (this one: {epochs or 0:g}); "
            "build one with nas bench build --epochs 2 or more"
        )
    return make_pruner(strategy.pruner, float(epochs))


def default_strategies(estimator: Estimator) -> list[str]:
    """What ``nas bench compare`` runs unless told: every built-in strategy, the pruning ones only where the table
    has learning curves of at least 2 epochs to replay to their pruner."""
    from .strategies.registry import COMPARED_BY_DEFAULT

    prunable = (getattr(estimator, "epochs", None) or 0) >= 2 and getattr(estimator, "has_curves", False)
    return [name for name in COMPARED_BY_DEFAULT if prunable or get_strategy_class(name).pruner is None]


def run_of(name: str, seed: int, records: list[TrialRecord]) -> Run:
    """A :class:`Run` from a loop's records in the order they ended (failed-for-free ones kept in its history only)."""
    run = Run(name, seed, history=list(records))
    for record in records:
        if record.attrs.get("trained", True):  # a point the data cannot serve fails for free
            run.add(record.point, record.accuracy, record.cost, record.attrs["seconds"], record.attrs["source"])
    return run


def within_target(run: Run, target: int) -> list[float | None]:
    """The run's accuracies, with models over the target (coordinate's overshoot) counted as no result."""
    return [a if m <= target else None for a, m in zip(run.accuracies, run.costs)]


def best_after(run: Run, target: int, models: int) -> float:
    curve = best_so_far(within_target(run, target))
    if not curve:
        return math.nan
    return curve[min(models, len(curve)) - 1]


def summarise(
    runs: Sequence[Run],
    *,
    target: int,
    optimum: Callable[[int], float],
    budgets: Sequence[int],
    epsilon: float,
    reference: tuple[float, float],
    baseline: str = "random",
    scale: float = 1e9,
) -> list[dict[str, Any]]:
    """One row per strategy: best accuracy after each budget, models/time to within epsilon,
    hypervolume, Wilcoxon vs baseline.

    ``optimum(seed)`` is the best accuracy within the target that the benchmark holds under that seed's draws.
    Costs are divided by ``scale`` for the hypervolume (GMACs by default; 1000 turns microseconds into ms),
    whose ``reference`` is in that unit.
    """
    by_strategy: dict[str, list[Run]] = {}
    for run in runs:
        by_strategy.setdefault(run.strategy, []).append(run)
    final_budget = max(budgets)
    finals = {
        name: [best_after(r, target, final_budget) for r in sorted(rs, key=lambda r: r.seed)]
        for name, rs in by_strategy.items()
    }
    rows = []
    for name, strategy_runs in by_strategy.items():
        strategy_runs = sorted(strategy_runs, key=lambda r: r.seed)
        row: dict[str, Any] = {"strategy": name, "seeds": len(strategy_runs)}
        for budget in budgets:
            mean, sem = mean_and_sem([best_after(r, target, budget) for r in strategy_runs])
            row[f"best@{budget}"], row[f"best@{budget}_sem"] = mean, sem
        reach = [models_to_reach(within_target(r, target), optimum(r.seed) - epsilon) for r in strategy_runs]
        reached = [n for n in reach if n is not None]
        row["reached"] = len(reached)
        row["models_to_eps"], row["models_to_eps_sem"] = (
            mean_and_sem([float(n) for n in reached]) if reached else (math.nan, math.nan)
        )
        times = [sum(r.seconds[:n]) for r, n in zip(strategy_runs, reach) if n is not None]
        row["hours_to_eps"], row["hours_to_eps_sem"] = (
            (v / 3600 for v in mean_and_sem(times)) if times else (math.nan, math.nan)
        )
        volumes = [
            hypervolume(
                [(m / scale, a) for m, a in zip(r.costs, r.accuracies) if a is not None and m <= target], reference
            )
            for r in strategy_runs
        ]
        row["hypervolume"], row["hypervolume_sem"] = mean_and_sem(volumes)
        row["models_trained"] = mean_and_sem([float(len(r.points)) for r in strategy_runs])[0]
        row["from_table"] = mean_and_sem([r.table_share() for r in strategy_runs])[0]
        row["wilcoxon_p_vs_" + baseline] = (
            None if name == baseline or baseline not in finals else wilcoxon_p(finals[name], finals[baseline])
        )
        rows.append(row)
    return _with_verdict(rows, finals, baseline)


def _with_verdict(rows: list[dict[str, Any]], finals: dict[str, list[float]], baseline: str) -> list[dict[str, Any]]:
    """Add the average rank of each strategy's final best, Holm's correction of the tests against the baseline, and
    whether it beats the baseline: significantly (Holm p < 0.05) and with a higher mean."""
    key = "wilcoxon_p_vs_" + baseline
    adjusted = holm({row["strategy"]: row[key] for row in rows})
    comparable = {name: [-math.inf if math.isnan(v) else v for v in values] for name, values in finals.items()}
    ranks = average_ranks(comparable) if len({len(v) for v in comparable.values()}) == 1 else {}
    reference = next((mean_and_sem(finals[baseline])[0] for name in finals if name == baseline), math.nan)
    for row in rows:
        name = row["strategy"]
        row["rank_mean"] = ranks.get(name, math.nan)
        row[f"p_holm_vs_{baseline}"] = adjusted.get(name)
        p, mean = adjusted.get(name), mean_and_sem(finals[name])[0]
        row[f"beats_{baseline}"] = bool(p is not None and p < 0.05 and mean > reference)
    return rows
