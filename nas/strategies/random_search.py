"""Random search: uniform over the ladder levels within the compute target, without replacement.

The baseline every NAS comparison needs.  The strategy is stateless like
every other: the seed fixes one sequence of distinct points (each axis drawn
uniformly from its ladder; a point over the target is skipped, for free,
by the analytic cost), and ``propose`` returns the first points of that
sequence the history has not settled.  A killed search therefore resumes
exactly where it was, and an interrupted trial's point comes round again.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from spaces import Point, SearchSpace

from .base import RUNNING, Proposal, Strategy, TrialRecord

#: Draws allowed per accepted point before the space counts as exhausted under the target.
MAX_DRAWS_PER_POINT = 20_000


class RandomSearch(Strategy):
    name = "random"
    terminates = False  # it would go on until the ladder grid is exhausted: the runner's budget stops it
    worker_invariant = True  # one seeded sequence of points, whatever the results

    def __init__(
        self, space: SearchSpace, *, target: int, seed: int = 0, cost: Callable[[Point], int] | None = None
    ) -> None:
        super().__init__(space, target=target, seed=seed, cost=cost)
        self._sequence: list[Point] = []
        self._rng = random.Random(seed)
        self._exhausted = False

    def _extend(self, length: int) -> None:
        """Grow the seeded sequence of distinct points within the target to ``length``."""
        seen = set(self._sequence)
        while len(self._sequence) < length and not self._exhausted:
            for _ in range(MAX_DRAWS_PER_POINT):
                point = self.space.sample(self._rng, on_ladder=True)
                if point not in seen and self.fits(point):
                    self._sequence.append(point)
                    seen.add(point)
                    break
            else:
                self._exhausted = True

    def propose(self, history: Sequence[TrialRecord], n: int = 1) -> list[Proposal]:
        settled = {r.point for r in history if r.settled}
        running = {r.point for r in history if r.state == RUNNING}
        proposals: list[Proposal] = []
        index = 0
        while len(proposals) < n:
            if index >= len(self._sequence):
                self._extend(index + 1)
                if index >= len(self._sequence):
                    break
            point = self._sequence[index]
            if point not in settled and point not in running:
                proposals.append(Proposal(point, {"step": index, "role": "sample"}))
            index += 1
        return proposals

    def is_finished(self, history: Sequence[TrialRecord]) -> bool:
        return not self.propose(history, 1) and not any(r.state == RUNNING for r in history)
