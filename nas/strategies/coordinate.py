"""X3D coordinate expansion: forward expansion one axis at a time, then backward contraction.

Each step trains one candidate per expansion operation of the current model
(each about 2x its compute) and keeps the best by the selection rule.  When
the winning candidate passes the compute target, it is contracted along its
own operation by less than one step, to the largest point that fits (X3D-S is
XS expanded to 16 frames, contracted to 13).

We train the overshooting step and contract its *winner*, as the paper does,
rather than contracting every candidate before training it: the candidates of
one step then all cost about 2x, so the accuracy comparison between axes is
fair, and only one extra model (the contraction) is trained.

The strategy is stateless: ``propose`` replays the whole search over the
trial history each time, so a killed search resumes from the ledger alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from spaces import Point, SearchSpace
from spaces.errors import NasError

from .base import COMPLETE, RUNNING, Proposal, Strategy, TrialRecord

SELECTION_RULES = ("accuracy", "gain_per_compute")


@dataclass(frozen=True)
class PathStep:
    """One point of the expansion path, with the candidates its step compared."""

    step: int
    operation: str | None  # None for the base
    point: Point
    role: str  # "base", "expansion", "overshoot" (passed the target) or "contraction"
    candidates: Mapping[str, Point] = field(default_factory=dict)


@dataclass
class _Replay:
    path: list[PathStep]
    proposals: list[Proposal]
    finished: bool
    current: Point | None = None


#: The least growth per step a plan assumes, so a cost that barely grows still plans a finite search.
MIN_GROWTH_PER_STEP = 1.1


class CoordinateExpansion(Strategy):
    name = "coordinate"

    def __init__(self, space: SearchSpace, *, target_macs: int, seed: int = 0,
                 cost: Callable[[Point], int] | None = None, selection: str = "accuracy") -> None:
        super().__init__(space, target_macs=target_macs, seed=seed, cost=cost)
        self._cost_doubles = cost is None  # MACs: every X3D expansion about doubles them, by design of the axes
        if selection not in SELECTION_RULES:
            raise NasError(f"unknown selection rule {selection!r}; choose one of: {', '.join(SELECTION_RULES)}")
        self.selection = selection

    # -- the public questions ------------------------------------------------------
    def propose(self, history: Sequence[TrialRecord], n: int = 1) -> list[Proposal]:
        return self._replay(history).proposals[:n]

    def is_finished(self, history: Sequence[TrialRecord]) -> bool:
        return self._replay(history).finished

    def expansion_path(self, history: Sequence[TrialRecord]) -> list[PathStep]:
        return self._replay(history).path

    def planned_costs(self, history: Sequence[TrialRecord]) -> list[int]:
        """Pending candidates, then about 2x compute per further step and one contraction at the target."""
        replay = self._replay(history)
        if replay.finished:
            return []
        costs = [self.cost(p.point) for p in replay.proposals]
        if replay.current is not None:  # mid-step: the pending candidates cost about one step more than the current model
            growth = self._growth_per_step(replay.current)
            step_cost = growth * self.cost(replay.current)
        elif replay.proposals and replay.proposals[0].attrs.get("role") == "base":
            growth = self._growth_per_step(self.space.base)
            step_cost = self.cost(self.space.base)
        else:
            return costs  # a contraction: the last training
        operations = len(self.space.operations)
        while step_cost <= self.target_macs:
            step_cost *= growth
            costs += [step_cost] * operations
        costs.append(self.target_macs)
        return costs

    def _growth_per_step(self, point: Point) -> float:
        """What one step multiplies the cost by: 2 for MACs; for another cost (latency), the candidates' median ratio.

        Latency grows far less than MACs per expansion (per-layer overhead does
        not double), so assuming 2x would plan too few steps and, through the
        plan, give open-ended strategies too small a default budget.
        """
        if self._cost_doubles:
            return 2.0
        here = self.cost_of(point)
        ratios = sorted(self.cost_of(self.space.expand(point, op)) / here
                        for op in self.space.operations if self.space.can_expand(point, op))
        return max(MIN_GROWTH_PER_STEP, ratios[len(ratios) // 2]) if ratios else 2.0

    def chosen(self, history: Sequence[TrialRecord]) -> Point | None:
        """The model the search ends on: the contraction, or the last expansion within the target.

        A path point whose training failed (a diverged base network) is no model: None then.
        """
        complete = {record.point for record in history if record.state == COMPLETE}
        within = [s for s in self._replay(history).path if s.role != "overshoot" and s.point in complete]
        return within[-1].point if within else None

    # -- replaying the search ---------------------------------------------------------
    def _replay(self, history: Sequence[TrialRecord]) -> _Replay:
        settled = {record.point: record for record in history if record.settled}
        running = {record.point for record in history if record.state == RUNNING}

        def need(point: Point, attrs: dict) -> list[Proposal]:
            return [] if point in running else [Proposal(point, attrs)]

        base = self.space.base
        if base not in settled:
            return _Replay([], need(base, {"step": 0, "role": "base"}), False)
        path = [PathStep(0, None, base, "base")]
        if settled[base].state != COMPLETE:
            return _Replay(path, [], True)  # the base itself failed: nothing to expand from
        current, step = base, 0
        while True:
            candidates = self.space.expansions(current)
            if not candidates:
                return _Replay(path, [], True)  # every ladder is at its end
            step += 1
            missing = [(op, point) for op, point in candidates.items() if point not in settled]
            if missing:
                attrs = lambda op: {"step": step, "role": "candidate", "operation": op}  # noqa: E731
                return _Replay(path, [p for op, point in missing for p in need(point, attrs(op))], False, current)
            operation = self._select(current, candidates, settled)
            if operation is None:
                return _Replay(path, [], True)  # every candidate failed
            winner = candidates[operation]
            if self.cost(winner) <= self.target_macs:
                path.append(PathStep(step, operation, winner, "expansion", candidates))
                current = winner
                continue
            path.append(PathStep(step, operation, winner, "overshoot", candidates))
            fitting = next((p for p in self.space.contractions(winner, operation) if self.cost(p) <= self.target_macs), current)
            if fitting == current:
                return _Replay(path, [], True)  # no point between the two fits: keep the current model
            if fitting not in settled:
                return _Replay(path, need(fitting, {"step": step, "role": "contraction", "operation": operation}), False)
            path.append(PathStep(step, operation, fitting, "contraction"))
            return _Replay(path, [], True)

    def _select(self, current: Point, candidates: Mapping[str, Point], settled: Mapping[Point, TrialRecord]) -> str | None:
        """The operation whose candidate wins; ties go to the cheaper candidate, then to operation order."""
        order = {op.name: i for i, op in enumerate(self.space.operations)}
        base_record = settled[current]
        scored = []
        for op, point in candidates.items():
            record = settled[point]
            if record.state != COMPLETE or record.accuracy is None:
                continue
            if self.selection == "accuracy":
                score = record.accuracy
            else:
                added = max(record.macs - base_record.macs, 1)
                score = (record.accuracy - (base_record.accuracy or 0.0)) / added
            scored.append((score, -record.macs, -order.get(op, 0), op))
        return max(scored)[3] if scored else None
