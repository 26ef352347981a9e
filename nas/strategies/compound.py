"""Compound scaling (Tan & Le, *EfficientNet*, ICML 2019) over any space's axes.

EfficientNet scales depth, width and resolution together, ``d = α^φ``,
``w = β^φ``, ``r = γ^φ`` with ``α·β²·γ² ≈ 2`` so that each unit of φ doubles
the compute; it picks α, β, γ by a small grid search at φ = 1 from the base
network, then scales the best choice up by φ to the budget.

The same, for any space: an axis's position is its ladder index (fractional
between two levels: geometric in between on a log axis), so moving along a
ladder is raising that axis's multiplier to a power.  A *direction* shares
ladder steps among the axes that cost compute, in units of ``1/resolution``
(with halves, the default: one axis a whole step, or two axes half a step
each — 15 directions on X3D's five costly axes).  The φ = 1 point of a
direction is the point along it whose cost is nearest twice the base's: the
``α·β²·γ² ≈ 2`` constraint, measured with the strategy's ``cost`` (never
assumed per axis, so a latency cost plugs in unchanged).  The grid of those
points is trained, the most accurate direction wins (the next one where the
winner's scaled models fail), and it is scaled along the same direction:
φ = 2, 3, ... (the points nearest 4, 8, ... times the base's cost) below the
target, then the largest point within it — the model the search ends on.

Stateless like every strategy: the grid follows from the space, the cost
and the target, and ``propose`` replays the search over the history.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from spaces import Axis, Point, SearchSpace
from spaces.errors import InvalidPointError, NasError

from .base import COMPLETE, RUNNING, Proposal, Strategy, TrialRecord
from .coordinate import PathStep

#: Compute per unit of φ (EfficientNet's α·β²·γ² ≈ 2).
UNIT_RATIO = 2.0
#: A φ = 1 point whose cost is further than this factor from its goal is not "≈ 2": its direction is dropped.
TOLERANCE = math.sqrt(2)
BISECTION_STEPS = 40


@dataclass(frozen=True)
class Direction:
    """Ladder steps per unit of scale, per axis (the shares sum to 1)."""

    shares: tuple[tuple[str, float], ...]

    @property
    def label(self) -> str:
        """``crop`` for a whole step, ``0.5crop+0.5width`` for shared ones."""
        return "+".join(name if share == 1 else f"{share:g}{name}" for name, share in self.shares)


@dataclass(frozen=True)
class GridPoint:
    """A direction and its φ = 1 point."""

    direction: Direction
    point: Point


@dataclass
class _Plan:
    proposals: list[Proposal]
    finished: bool
    winner: GridPoint | None = None
    scaled: tuple[Point, ...] = ()


def ladder_value(axis: Axis, index: float) -> float:
    """The axis value at a fractional ladder index (validated: integer axes round)."""
    levels = axis.ladder
    index = min(max(index, 0.0), len(levels) - 1)
    low = math.floor(index)
    fraction = index - low
    if fraction < 1e-12:
        return levels[low]
    a, b = levels[low], levels[low + 1]
    raw = a * (b / a) ** fraction if axis.log else a + (b - a) * fraction
    return axis.validate(round(raw) if axis.integer else raw)


class CompoundScaling(Strategy):
    name = "compound"
    worker_invariant = True  # the grid step is settled whole before the scaling is chosen

    def __init__(
        self,
        space: SearchSpace,
        *,
        target: int,
        seed: int = 0,
        cost: Callable[[Point], int] | None = None,
        resolution: int = 2,
    ) -> None:
        super().__init__(space, target=target, seed=seed, cost=cost)
        if isinstance(resolution, bool) or not isinstance(resolution, int) or not 1 <= resolution <= 4:
            raise NasError(f"compound scaling's resolution must be a whole number from 1 to 4, got {resolution!r}")
        self.resolution = resolution
        self._grid: list[GridPoint] | None = None

    # -- geometry: directions, points along them, the grid --------------------------------
    def scalable_axes(self) -> tuple[str, ...]:
        """Axes whose first ladder step from the base changes the cost: the ones a compute budget can be shared among.

        An axis that costs nothing to move (X3D's sampling stride) gets no share
        of the ≈2x constraint and stays at its base, as EfficientNet scales only
        what costs.
        """
        base, base_cost, names = self.space.base, self.cost_of(self.space.base), []
        for axis in self.space.axes:
            level = axis.step_up(base[axis.name])
            try:
                if level is not None and self.cost_of(self.space.point(base, **{axis.name: level})) != base_cost:
                    names.append(axis.name)
            except InvalidPointError:
                continue
        return tuple(names)

    def directions(self) -> list[Direction]:
        """Every way to share one ladder step among the scalable axes in units of 1/resolution, in axis order."""
        names = self.scalable_axes()
        found = []
        for combination in itertools.combinations_with_replacement(range(len(names)), self.resolution):
            counts = {i: combination.count(i) for i in sorted(set(combination))}
            found.append(Direction(tuple((names[i], count / self.resolution) for i, count in counts.items())))
        return found

    def along(self, direction: Direction, scale: float) -> Point | None:
        """The base moved ``scale`` ladder steps along ``direction`` (None where the space refuses the point)."""
        base = self.space.base
        values = {
            name: ladder_value(self.space.axis(name), self.space.axis(name).ladder.index(base[name]) + share * scale)
            for name, share in direction.shares
        }
        try:
            return self.space.point(base, **values)
        except InvalidPointError:
            return None

    def _reach(self, direction: Direction) -> float:
        """The largest scale before an axis of the direction leaves the top of its ladder."""
        base = self.space.base
        return min(
            (len(self.space.axis(n).ladder) - 1 - self.space.axis(n).ladder.index(base[n])) / share
            for n, share in direction.shares
        )

    def _bracket(self, direction: Direction, limit: float) -> tuple[float, float]:
        """Scales (low, high): the largest found with cost <= limit, and the smallest found above it (bisection)."""
        low, high = 0.0, self._reach(direction)
        top = self.along(direction, high)
        if top is not None and self.cost_of(top) <= limit:
            return high, high
        for _ in range(BISECTION_STEPS):
            middle = (low + high) / 2
            point = self.along(direction, middle)
            if point is not None and self.cost_of(point) <= limit:
                low = middle
            else:
                high = middle
        return low, high

    def _unit_point(self, direction: Direction, goal: float) -> GridPoint | None:
        """The point along ``direction`` whose cost is nearest ``goal`` (within the target and the tolerance)."""
        low, high = self._bracket(direction, goal)
        options = [
            p
            for s in (low, high)
            if (p := self.along(direction, s)) is not None and p != self.space.base and self.fits(p)
        ]
        if not options:
            return None
        point = min(options, key=lambda p: abs(math.log(self.cost_of(p) / goal)))
        if abs(math.log(self.cost_of(point) / goal)) > math.log(TOLERANCE):
            return None
        return GridPoint(direction, point)

    def grid(self) -> list[GridPoint]:
        """The φ = 1 points, one per direction that reaches about twice the base's cost (distinct points)."""
        if self._grid is None:
            base_cost = self.cost_of(self.space.base)
            goal = base_cost * min(UNIT_RATIO, self.target / base_cost)
            grid: dict[Point, GridPoint] = {}
            for direction in self.directions():
                unit = self._unit_point(direction, goal)
                if unit is not None and unit.point not in grid:
                    grid[unit.point] = unit
            self._grid = list(grid.values())
        return self._grid

    def scaled(self, winner: GridPoint) -> tuple[Point, ...]:
        """The winner's direction at φ = 2, 3, ... (cost nearest 2^φ times the base's) below the target, then at it.

        φ is counted in cost, not in ladder steps: ladders need not be regular
        (X3D's crops 112, 160, 224, 312), and a latency cost is not MACs.
        """
        points, base_cost, phi = [winner.point], self.cost_of(self.space.base), 2
        while (goal := base_cost * UNIT_RATIO**phi) < self.target:
            unit = self._unit_point(winner.direction, goal)
            if unit is None:
                break  # the direction's ladders end before this much compute
            points.append(unit.point)
            phi += 1
        low, _ = self._bracket(winner.direction, self.target)
        last = self.along(winner.direction, low)
        if last is not None and self.fits(last):
            points.append(last)
        return tuple(dict.fromkeys(points))[1:]

    # -- the public questions -----------------------------------------------------------
    def propose(self, history: Sequence[TrialRecord], n: int = 1) -> list[Proposal]:
        return self._replay(history).proposals[:n]

    def is_finished(self, history: Sequence[TrialRecord]) -> bool:
        return self._replay(history).finished

    def chosen(self, history: Sequence[TrialRecord]) -> Point | None:
        """The largest scaled model that trained (the search's answer at the target), else the most accurate."""
        plan = self._replay(history)
        done = {r.point for r in history if r.state == COMPLETE}
        trained = [p for p in ((plan.winner.point,) if plan.winner else ()) + plan.scaled if p in done]
        return trained[-1] if trained else super().chosen(history)

    def expansion_path(self, history: Sequence[TrialRecord]) -> list[PathStep]:
        """Base, the winning direction at φ = 1 (with the grid as its candidates), then each scaled point."""
        plan = self._replay(history)
        path = [PathStep(0, None, self.space.base, "base")]
        if plan.winner is not None:
            label = plan.winner.direction.label
            path.append(
                PathStep(1, label, plan.winner.point, "expansion", {g.direction.label: g.point for g in self.grid()})
            )
            path += [PathStep(phi, label, point, "expansion") for phi, point in enumerate(plan.scaled, start=2)]
        return path

    def planned_costs(self, history: Sequence[TrialRecord]) -> list[int]:
        """What is pending, then (before the grid is decided) one model per doubling up to the target."""
        plan = self._replay(history)
        costs = [self.cost_of(p.point) for p in plan.proposals]
        if plan.winner is None and not plan.finished:
            step = UNIT_RATIO * UNIT_RATIO * self.cost_of(self.space.base)
            while step < self.target:
                costs.append(int(step))
                step *= UNIT_RATIO
            costs.append(self.target)
        return costs

    # -- replaying the search --------------------------------------------------------------
    def _replay(self, history: Sequence[TrialRecord]) -> _Plan:
        settled = {r.point: r for r in history if r.settled}
        running = {r.point for r in history if r.state == RUNNING}
        base = self.space.base
        wanted = [(base, {"step": 0, "role": "base"})]
        wanted += [(g.point, {"step": 1, "role": "candidate", "operation": g.direction.label}) for g in self.grid()]
        pending = self._pending(wanted, settled, running)
        if pending is not None:
            return pending
        for winner in self._ranked(settled):
            scaled = self.scaled(winner)
            if any(p in settled and settled[p].state != COMPLETE for p in scaled):
                # its scaled path broke (the data cannot serve it, a training diverged): the next best direction
                continue
            wanted = [
                (p, {"step": phi, "role": "scaled", "operation": winner.direction.label})
                for phi, p in enumerate(scaled, start=2)
            ]
            pending = self._pending(wanted, settled, running)
            return pending if pending is not None else _Plan([], True, winner, scaled)
        return _Plan([], True)  # no grid point completed, or every direction broke: nothing more to scale

    @staticmethod
    def _pending(wanted: list[tuple[Point, dict]], settled: dict, running: set) -> _Plan | None:
        """Proposals for the wanted points not yet settled (None when all are): a phase ends when all settle."""
        missing = [(p, attrs) for p, attrs in wanted if p not in settled]
        if not missing:
            return None
        return _Plan([Proposal(p, attrs) for p, attrs in missing if p not in running], False)

    def _ranked(self, settled: dict) -> list[GridPoint]:
        """The completed grid points, most accurate first; ties go to the cheaper one, then to grid order."""
        scored = [
            (r.accuracy, -self.cost_of(g.point), -index, g)
            for index, g in enumerate(self.grid())
            if (r := settled[g.point]).state == COMPLETE and r.accuracy is not None
        ]
        return [s[3] for s in sorted(scored, key=lambda s: s[:3], reverse=True)]
