"""Regularised (aging) evolution (Real et al., AAAI 2019) with mutations along the space's ladders.

The first ``population`` points come from the seeded random order.  After
that, each child is made from the history alone: the population is the last
``population`` completed trials (the oldest ages out as a new one completes),
``sample`` of them are drawn with an RNG seeded by the strategy seed and the
number of settled trials, the most accurate is the parent, and the child
moves one axis of the parent one ladder level up or down.  A child over the
target or already measured is redrawn (a bounded number of times, then the
random order takes over), so no training is wasted and nothing loops.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from spaces import Point, SearchSpace
from spaces.errors import NasError

from .base import (
    COMPLETE,
    RUNNING,
    Proposal,
    Strategy,
    TrialRecord,
    derived_seed,
    interrupted_first,
)
from .random_search import RandomSearch

MAX_MUTATIONS = 64


class RegularisedEvolution(Strategy):
    name = "evolution"
    terminates = False

    def __init__(
        self,
        space: SearchSpace,
        *,
        target: int,
        seed: int = 0,
        cost: Callable[[Point], int] | None = None,
        population: int = 10,
        sample: int = 3,
    ) -> None:
        super().__init__(space, target=target, seed=seed, cost=cost)
        if population < 2 or not 1 <= sample <= population:
            raise NasError(f"evolution needs population >= 2 and 1 <= sample <= population, got {population}, {sample}")
        self.population, self.sample = population, sample
        self._random = RandomSearch(space, target=target, seed=seed, cost=self.cost)

    def mutate(self, parent: Point, rng: random.Random) -> Point | None:
        """The parent with one axis moved one ladder level up or down (None if that leaves the ladder)."""
        axis = rng.choice(self.space.axes)
        level = axis.step_up(parent[axis.name]) if rng.random() < 0.5 else axis.step_down(parent[axis.name])
        return None if level is None else parent.replace(**{axis.name: level})

    def propose(self, history: Sequence[TrialRecord], n: int = 1) -> list[Proposal]:
        taken = {r.point for r in history if r.settled or r.state == RUNNING}
        proposals = interrupted_first(history, taken, n)
        completed = [r for r in history if r.state == COMPLETE and r.accuracy is not None]
        settled = sum(1 for r in history if r.settled)
        if len(completed) < self.population:  # the first population: random order
            pending = list(history) + [TrialRecord(p.point, RUNNING) for p in proposals]
            for extra in self._random.propose(pending, n - len(proposals)):
                proposals.append(Proposal(extra.point, {**extra.attrs, "role": "initial"}))
            return proposals
        population = completed[-self.population :]
        rng = random.Random(derived_seed(self.seed, settled))
        while len(proposals) < n:
            proposal = self._child(population, taken, rng, step=settled + len(proposals))
            if proposal is None:
                break
            taken.add(proposal.point)
            proposals.append(proposal)
        if len(proposals) < n:
            pending = list(history) + [TrialRecord(p.point, RUNNING) for p in proposals]
            for extra in self._random.propose(pending, n - len(proposals)):
                proposals.append(Proposal(extra.point, {**extra.attrs, "role": "random-fallback"}))
        return proposals

    def _child(
        self, population: list[TrialRecord], taken: set[Point], rng: random.Random, step: int
    ) -> Proposal | None:
        for _ in range(MAX_MUTATIONS):
            parent = max(rng.sample(population, self.sample), key=lambda r: (r.accuracy, -r.cost))
            child = self.mutate(parent.point, rng)
            if child is not None and child not in taken and self.fits(child):
                return Proposal(child, {"step": step, "role": "child", "parent": parent.point.key})
        return None

    def is_finished(self, history: Sequence[TrialRecord]) -> bool:
        return self._random.is_finished(history)
