"""Greedy hill climbing: a search strategy from another package, registered through the ``nas.strategies`` entry point.

It works on any space.  From the base network it trains every expansion
that fits the target (one per operation), moves to the most accurate of them
if it beats the current point, and stops when none does or none fits.  Unlike
X3D's coordinate expansion it never overshoots and never contracts, so it is
the plain greedy baseline a coordinate search should beat.

Like every strategy it keeps no state of its own: the climb is replayed from
the history on every call, so a killed search resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Sequence

from nas.strategies import COMPLETE, RUNNING, Proposal, Strategy, TrialRecord
from spaces import Point


class HillClimbing(Strategy):
    name = "hill-climb"
    terminates = True
    worker_invariant = True  # a step's candidates are all settled before the climb moves on

    def _climb(self, history: Sequence[TrialRecord]) -> tuple[Point, list[Point], int]:
        """Replay the climb: the current point, its step's candidates, the step number."""
        accuracy = {r.point: r.accuracy for r in history if r.state == COMPLETE}
        settled = {r.point for r in history if r.settled}
        current, step = self.space.base, 0
        while current in settled:
            candidates = [p for p in self.space.expansions(current).values() if self.fits(p)]
            if not candidates or any(p not in settled for p in candidates):
                return current, candidates, step + 1
            best = max((p for p in candidates if p in accuracy), key=lambda p: accuracy[p], default=None)
            if best is None or accuracy[best] <= accuracy.get(current, -1.0):
                return current, [], step + 1  # no candidate beats the current point: the top of the hill
            current, step = best, step + 1
        return current, [current], step

    def propose(self, history: Sequence[TrialRecord], n: int = 1) -> list[Proposal]:
        current, candidates, step = self._climb(history)
        taken = {r.point for r in history if r.settled or r.state == RUNNING}
        role = "base" if step == 0 else "candidate"
        return [Proposal(p, {"step": step, "role": role}) for p in candidates if p not in taken][:n]

    def is_finished(self, history: Sequence[TrialRecord]) -> bool:
        _, candidates, _ = self._climb(history)
        return not candidates and not any(r.state == RUNNING for r in history)
