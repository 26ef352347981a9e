"""The strategy contract: propose the next points from the trial history alone.

A strategy keeps no state of its own between calls: everything it needs is in
the history the ledger holds.  A killed search therefore resumes by reading
the ledger again, and several workers cooperate without a coordinator.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from spaces import Point, SearchSpace
from spaces.errors import NasError

from ..costs import GMACS, Unit

#: Trial states as the ledger reports them (pruned: a pruner stopped its training early, for good).
COMPLETE, FAILED, RUNNING, PRUNED = "complete", "failed", "running", "pruned"


@dataclass(frozen=True)
class TrialRecord:
    """One evaluated (or running) point, as a strategy sees it."""

    point: Point
    state: str
    accuracy: float | None = None
    # the search's cost of the point, in the strategy's unit (MACs, or whole µs under latency); attrs["macs"] are MACs
    cost: int = 0
    attrs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def settled(self) -> bool:
        """Complete, pruned, or failed for good (a diverged training); interrupted trials are retried."""
        return self.state in (COMPLETE, PRUNED) or (self.state == FAILED and not self.attrs.get("retry", False))


@dataclass(frozen=True)
class Proposal:
    """A point to evaluate next, with what the strategy wants recorded beside it."""

    point: Point
    attrs: Mapping[str, Any] = field(default_factory=dict)


def best_within(
    records: Sequence[TrialRecord], max_cost: float, cost: Callable[[TrialRecord], float] = lambda r: r.cost
) -> TrialRecord | None:
    """The most accurate completed trial whose ``cost`` (the search's by default) is at most ``max_cost``
    (ties: the cheaper).

    The one "best within the target" of the toolkit: strategies' choice, ``nas export --gflops``, reports.
    """
    within = [r for r in records if r.state == COMPLETE and r.accuracy is not None and cost(r) <= max_cost]
    return max(within, key=lambda r: (r.accuracy, -cost(r)), default=None)


def repeat_of(record: TrialRecord) -> int:
    """Which training run of its point a trial is: 0 for the first seed, 1, 2, ... for the repeats."""
    return int(record.attrs.get("repeat", 0) or 0)


def accuracy_se(record: TrialRecord) -> float | None:
    """The standard error of a record's accuracy, where it was measured (None: unknown, e.g. a table lookup)."""
    value = record.attrs.get("accuracy_se")
    return None if value is None else float(value)


def combined_se(accuracies: Sequence[float], validation_se: float | None) -> float | None:
    """Standard error of the mean accuracy of runs that differ only in their training seed.

    The runs share one validation split, so its sampling error does not shrink
    with more runs; the seed-to-seed spread does: ``sqrt(se_val^2 + s^2 / n)``
    with ``s`` the runs' sample standard deviation (unknown for a single run,
    whose error is then the validation split's alone).
    """
    if validation_se is None:
        return None
    n = len(accuracies)
    if n < 2:
        return validation_se
    mean = sum(accuracies) / n
    spread = sum((a - mean) ** 2 for a in accuracies) / (n - 1)
    return (validation_se**2 + spread / n) ** 0.5


def noise_of(record: TrialRecord, seed_spread: float = 0.0) -> float | None:
    """The standard error of a record's (mean) accuracy, with ``seed_spread`` as a floor for the seed-to-seed spread.

    A single run's error is its validation split's alone, yet the same point trained under another seed moves
    by more (several points at the default proxy); ``seed_spread``, a standard deviation of top-1 over training
    seeds, is then assumed for it: ``sqrt(se_val^2 + max(s^2, seed_spread^2) / n)`` over the point's ``n`` runs of
    sample standard deviation ``s``. With 0 it is :func:`combined_se`'s error, unchanged.
    """
    se = accuracy_se(record)
    if se is None or not seed_spread:
        return se
    runs = record.attrs.get("accuracy_runs") or [record.accuracy]
    validation = record.attrs.get("validation_se", se)
    n = len(runs)
    mean = sum(runs) / n
    variance = sum((a - mean) ** 2 for a in runs) / (n - 1) if n > 1 else 0.0
    return (validation**2 + max(variance, seed_spread**2) / n) ** 0.5


def aggregate_runs(history: Sequence[TrialRecord], repeats: int = 1) -> list[TrialRecord]:
    """One record per point for the strategies: its runs (one per training seed) merged.

    With one run per point (``repeats`` 1 and no extra seeds asked) the history
    is returned as it is.  Otherwise a point is *complete* once its first
    ``repeats`` runs are, with the mean accuracy of all its complete runs,
    ``runs``, ``accuracy_runs``, ``accuracy_se`` (:func:`combined_se`) and the
    repeats still in training (``pending_repeats``) in its attrs; *failed* for
    good if any run failed for good; *running* (taken) while its first
    ``repeats`` runs are unfinished.  A point whose only trials were
    interrupted stays failed-for-retry, as without repeats.
    """
    groups: dict[Point, list[TrialRecord]] = {}
    for record in history:
        groups.setdefault(record.point, []).append(record)
    merged: dict[Point, TrialRecord | None] = {}
    for point, runs in groups.items():
        if repeats <= 1 and all(repeat_of(r) == 0 for r in runs):
            merged[point] = None  # untouched: the history's own records
        else:
            merged[point] = _merge(point, runs, repeats)
    out: list[TrialRecord] = []
    emitted: set[Point] = set()
    for record in history:
        replacement = merged[record.point]
        if replacement is None:
            out.append(record)
        elif record.point not in emitted:
            emitted.add(record.point)
            out.append(replacement)
    return out


def _merge(point: Point, runs: Sequence[TrialRecord], repeats: int) -> TrialRecord:
    live = [r for r in runs if r.settled or r.state == RUNNING]
    if not live:  # only interrupted trials: retried like any interrupted point
        return runs[-1]
    complete = sorted((r for r in live if r.state == COMPLETE), key=repeat_of)
    first = complete[0] if complete else live[0]
    failed = next((r for r in live if r.state in (FAILED, PRUNED)), None)  # a pruned run ends its point too
    pending = sorted(repeat_of(r) for r in live if r.state == RUNNING)
    accuracies = [float(r.accuracy) for r in complete if r.accuracy is not None]
    validation_se = max((s for r in complete if (s := accuracy_se(r)) is not None), default=None)
    attrs = {
        **first.attrs,
        "runs": len(accuracies),
        "accuracy_runs": accuracies,
        "pending_repeats": pending,
        "repeats_done": [repeat_of(r) for r in complete],
    }
    if failed is not None:
        return TrialRecord(
            point, failed.state, None, failed.cost, {**failed.attrs, **{k: attrs[k] for k in ("runs", "accuracy_runs")}}
        )
    done = {repeat_of(r) for r in complete}
    if not all(k in done for k in range(repeats)):
        return TrialRecord(point, RUNNING, None, first.cost, attrs)
    attrs["accuracy_se"] = combined_se(accuracies, validation_se)
    attrs["validation_se"] = validation_se
    return TrialRecord(point, COMPLETE, sum(accuracies) / len(accuracies), first.cost, attrs)


def owed_runs(history: Sequence[TrialRecord], repeats: int, *, after_failure: bool = False) -> list[Proposal]:
    """The first ``repeats`` runs of points already started that no trial holds: trained before anything new.

    A point that failed for good owes nothing more, unless ``after_failure``
    (the table build: each seed's run is data of its own, and a training
    that diverged under one seed may not under another).
    """
    if repeats <= 1:
        return []
    held: dict[Point, set[int]] = {}
    attrs: dict[Point, dict] = {}
    for record in history:
        runs = held.setdefault(record.point, set())
        if record.settled or record.state == RUNNING:
            runs.add(repeat_of(record))
            if record.state in (FAILED, PRUNED) and record.settled and not after_failure:
                runs.update(range(repeats))  # failed for good: nothing more is owed
        if repeat_of(record) == 0 and record.point not in attrs:
            attrs[record.point] = {
                k: v for k, v in record.attrs.items() if k in ("step", "role", "operation", "sampler", "parent")
            }
    proposals = []
    for point, runs in held.items():
        if not runs:
            continue  # nothing started for good: the strategy re-proposes an interrupted point itself
        for repeat in range(repeats):
            if repeat not in runs:
                proposals.append(Proposal(point, {**attrs.get(point, {}), "repeat": repeat}))
                break
    return proposals


def derived_seed(*parts: object) -> int:
    """A 32-bit seed from any parts (strategy seed, history length, ...): stable across processes and runs."""
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:4], "little")


def interrupted_first(history: Sequence[TrialRecord], taken: set[Point], n: int) -> list[Proposal]:
    """Up to ``n`` proposals re-running interrupted trials (failed with ``retry``), oldest first.

    Their points are owed a result before anything new is proposed; ``taken``
    (settled and running points) is extended with them.
    """
    proposals: list[Proposal] = []
    for record in history:
        if len(proposals) >= n:
            break
        if record.state == FAILED and not record.settled and record.point not in taken:
            taken.add(record.point)
            proposals.append(
                Proposal(
                    record.point, {k: v for k, v in record.attrs.items() if k in ("step", "role", "sampler", "parent")}
                )
            )
    return proposals


class Strategy(ABC):
    """Proposes points of ``space`` whose compute stays within ``target``."""

    name: str = ""
    #: False for open-ended strategies (random, samplers): a search with them needs a budget.
    terminates: bool = True
    #: True where every proposal names the ``parent`` point it grows from (inherited weights can start it there).
    names_parents: bool = False
    #: The Optuna pruner that stops this strategy's unpromising trainings early (:mod:`nas.pruning`), if any.
    pruner: str | None = None
    #: True where the strategy trains points over the target on purpose (X3D's last expansion step, before contracting).
    overshoots: bool = False
    #: True where several workers sharing a ledger train the same points, and choose the same, as one process with the
    #: same seed: proposals that depend only on settled steps, never on which trials happened to finish first.
    worker_invariant: bool = False
    #: The options of the strategy's own (keywords of ``__init__``) that ``nas search`` passes and the study stores.
    own_options: tuple[str, ...] = ()

    def __init__(
        self, space: SearchSpace, *, target: int, seed: int = 0, cost: Callable[[Point], int] | None = None
    ) -> None:
        self.space = space
        self.seed = seed
        self.cost = cost or (lambda point: space.complexity(point).macs)
        #: How a cost of this strategy reads: GMACs for multiply-adds, else the cost's own (ms for latency in µs).
        self.unit: Unit = getattr(self.cost, "unit", GMACS)
        check = getattr(self.cost, "check_target", None)
        if check is not None:  # a cost in other units (latency) knows how to bound itself cheaply
            check(target)
        else:
            self._check_compute_target(target)
        self.target = target
        self._costs: dict[Point, int] = {}

    def _check_compute_target(self, target: int) -> None:
        """The target must lie between the base network's cost and the space's largest network's."""
        space = self.space
        base_cost, show = self.cost(space.base), self.unit.show
        option = "--target-gflops" if self.unit is GMACS else "the target"
        if target < base_cost:
            raise NasError(
                f"the compute target ({show(target)}) is below the base network's ({show(base_cost)} at "
                f"{space.base.key}); raise {option}"
            )
        largest = space.largest
        largest_cost = self.cost(largest)
        if target > largest_cost:
            raise NasError(
                f"the compute target ({show(target)}) is above this space's largest network "
                f"({show(largest_cost)} at {largest.key}): no search can reach it; lower {option}"
            )

    def cost_of(self, point: Point) -> int:
        """The point's cost, computed once per strategy (a measured latency cost may be slow)."""
        if point not in self._costs:
            self._costs[point] = self.cost(point)
        return self._costs[point]

    def fits(self, point: Point) -> bool:
        """Within the compute target."""
        return self.cost_of(point) <= self.target

    @abstractmethod
    def propose(self, history: Sequence[TrialRecord], n: int = 1) -> list[Proposal]:
        """Up to ``n`` points to evaluate next; empty when waiting on running trials or finished."""

    @abstractmethod
    def is_finished(self, history: Sequence[TrialRecord]) -> bool:
        """True once the strategy will propose nothing more."""

    def chosen(self, history: Sequence[TrialRecord]) -> Point | None:
        """The model the search settles on (by default the most accurate within the target)."""
        best = self.best(history)
        return best.point if best else None

    def planned_costs(self, history: Sequence[TrialRecord]) -> list[int]:
        """Estimated compute of the trainings still to come (for progress and ETA); empty if unknown.

        Open-ended strategies plan nothing (the runner's budget is their plan); a
        terminating one without a plan of its own reports what it would propose now.
        """
        if not self.terminates:
            return []
        return [self.cost(p.point) for p in self.propose(history, n=1_000_000)]

    def best(self, history: Sequence[TrialRecord]) -> TrialRecord | None:
        """The most accurate completed point within the compute target."""
        return best_within(history, self.target)
