"""The loop every library-sampler adapter shares: ask, keep what can be trained, tell the rest.

A library sampler (Optuna's, NNI's) knows nothing of the compute target or
of the points already measured or running.  The adapter rebuilds the
sampler from the history on every call (a :class:`SamplerSession`), then asks
it for points: one over the target is told back as a failure and never
trained (the analytic cost decides for free); one already measured or
running is told back and skipped.  After ``MAX_ASKS`` fruitless asks, or
when the library says it has nothing left, the adapter falls back on the
seeded random sequence, so it neither wastes a training nor loops forever.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from spaces import Point, SearchSpace

from .base import COMPLETE, RUNNING, Proposal, Strategy, TrialRecord, interrupted_first
from .random_search import RandomSearch

MAX_ASKS = 64


class SamplerSession(Protocol):
    """A library sampler rebuilt from the settled history, for one ``propose`` call."""

    def ask(self) -> Mapping[str, Any] | None:
        """The next parameters, or None when the library has nothing more to propose."""

    def tell_over_target(self, point: Point) -> None:
        """The last asked point exceeds the compute target: it gets the worst result."""

    def tell_repeat(self, point: Point, accuracy: float | None) -> None:
        """The last asked point is measured (``accuracy``) or running elsewhere (None)."""

    def tell_pending(self, point: Point) -> None:
        """The last asked point is proposed: its result comes later."""


class LibrarySamplerStrategy(Strategy):
    """Base of the adapters: subclasses open a session replaying the history into their library."""

    terminates = False

    def __init__(
        self, space: SearchSpace, *, target: int, seed: int = 0, cost: Callable[[Point], int] | None = None
    ) -> None:
        super().__init__(space, target=target, seed=seed, cost=cost)
        self._fallback = RandomSearch(space, target=target, seed=seed, cost=self.cost)

    @abstractmethod
    def open_session(self, settled: Sequence[TrialRecord]) -> SamplerSession:
        """The library's sampler, seeded from the strategy seed and the history, having seen ``settled``."""

    def on_ladder(self, point: Point) -> bool:
        """Whether the library can represent ``point`` (contractions land between ladder levels)."""
        return all(value in self.space.axis(name).ladder for name, value in point.as_dict().items())

    def propose(self, history: Sequence[TrialRecord], n: int = 1) -> list[Proposal]:
        taken = {r.point for r in history if r.settled or r.state == RUNNING}
        measured = {r.point: r.accuracy for r in history if r.state == COMPLETE}
        proposals = interrupted_first(history, taken, n)
        settled = [r for r in history if r.settled]
        session = self.open_session(settled) if len(proposals) < n else None
        asks = 0
        while session is not None and len(proposals) < n and asks < MAX_ASKS:
            asks += 1
            params = session.ask()
            if params is None:
                break
            point = self.space.from_params(params)
            if not self.fits(point):
                session.tell_over_target(point)
            elif point in taken:
                session.tell_repeat(point, measured.get(point))
            else:
                taken.add(point)
                session.tell_pending(point)
                proposals.append(
                    Proposal(point, {"step": len(settled) + len(proposals), "role": "sample", "sampler": self.name})
                )
        if len(proposals) < n:  # the sampler keeps proposing what cannot be trained: fall back on random order
            pending = list(history) + [TrialRecord(p.point, RUNNING) for p in proposals]
            for extra in self._fallback.propose(pending, n - len(proposals)):
                proposals.append(Proposal(extra.point, {**extra.attrs, "role": "sample", "sampler": "random-fallback"}))
        return proposals

    def is_finished(self, history: Sequence[TrialRecord]) -> bool:
        return self._fallback.is_finished(history)
