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

#: Trial states as the ledger reports them.
COMPLETE, FAILED, RUNNING = "complete", "failed", "running"


@dataclass(frozen=True)
class TrialRecord:
    """One evaluated (or running) point, as a strategy sees it."""

    point: Point
    state: str
    accuracy: float | None = None
    macs: int = 0  # the search's cost of the point: MACs, or microseconds when the cost is latency (attrs["macs"] are MACs)
    attrs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def settled(self) -> bool:
        """Complete, or failed for good (a diverged training); interrupted trials are retried."""
        return self.state == COMPLETE or (self.state == FAILED and not self.attrs.get("retry", False))


@dataclass(frozen=True)
class Proposal:
    """A point to evaluate next, with what the strategy wants recorded beside it."""

    point: Point
    attrs: Mapping[str, Any] = field(default_factory=dict)


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
            proposals.append(Proposal(record.point, {k: v for k, v in record.attrs.items() if k in ("step", "role", "sampler", "parent")}))
    return proposals


class Strategy(ABC):
    """Proposes points of ``space`` whose compute stays within ``target_macs``."""

    name: str = ""
    #: False for open-ended strategies (random, samplers): a search with them needs a budget.
    terminates: bool = True

    def __init__(self, space: SearchSpace, *, target_macs: int, seed: int = 0,
                 cost: Callable[[Point], int] | None = None) -> None:
        self.space = space
        self.seed = seed
        self.cost = cost or (lambda point: space.complexity(point).macs)
        check = getattr(self.cost, "check_target", None)
        if check is not None:  # a cost in other units (latency) knows how to bound itself cheaply
            check(target_macs)
        else:
            self._check_compute_target(target_macs)
        self.target_macs = target_macs
        self._costs: dict[Point, int] = {}

    def _check_compute_target(self, target_macs: int) -> None:
        """The target must lie between the base network's cost and the space's largest network's."""
        space = self.space
        base_cost = self.cost(space.base)
        if target_macs < base_cost:
            raise NasError(
                f"the compute target ({target_macs / 1e9:.4g} GMACs) is below the base network's "
                f"({base_cost / 1e9:.4g} GMACs at {space.base.key}); raise --target-gflops"
            )
        largest = space.largest
        largest_cost = self.cost(largest)
        if target_macs > largest_cost:
            raise NasError(
                f"the compute target ({target_macs / 1e9:.4g} GMACs) is above this space's largest network "
                f"({largest_cost / 1e9:.4g} GMACs at {largest.key}): no search can reach it; lower --target-gflops"
            )

    def cost_of(self, point: Point) -> int:
        """The point's cost, computed once per strategy (a measured latency cost may be slow)."""
        if point not in self._costs:
            self._costs[point] = self.cost(point)
        return self._costs[point]

    def fits(self, point: Point) -> bool:
        """Within the compute target."""
        return self.cost_of(point) <= self.target_macs

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
        within = [r for r in history if r.state == COMPLETE and r.accuracy is not None and r.macs <= self.target_macs]
        return max(within, key=lambda r: (r.accuracy, -r.macs), default=None)
