"""Optuna samplers as strategies (``tpe``), rebuilt from the trial history on every call.

Each ``propose`` replays the history into a throw-away in-memory study (the
space's ladder levels as categorical distributions) and asks a sampler seeded
from the strategy seed and the history's length, so the same history always
gives the same proposal: a killed search resumes exactly, with no sampler
state kept anywhere.

A sampler knows nothing of the compute target or of points already measured.
A proposal over the target is told to the throw-away study as a failure of
accuracy 0 (so the sampler learns to avoid the region) and never trained; a
point already measured, running or proposed in the same batch is skipped.
After ``MAX_ASKS`` fruitless asks the adapter falls back on the seeded random
sequence, so it can neither waste a training nor loop forever.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from spaces import Point, SearchSpace

from .base import COMPLETE, RUNNING, Proposal, Strategy, TrialRecord, derived_seed, interrupted_first
from .random_search import RandomSearch

MAX_ASKS = 64


class OptunaSamplerStrategy(Strategy):
    """Base of the adapters: subclasses name the sampler they build."""

    terminates = False

    def __init__(self, space: SearchSpace, *, target_macs: int, seed: int = 0,
                 cost: Callable[[Point], int] | None = None) -> None:
        super().__init__(space, target_macs=target_macs, seed=seed, cost=cost)
        self._fallback = RandomSearch(space, target_macs=target_macs, seed=seed, cost=self.cost)

    #: The study's objectives: accuracy alone, or accuracy against MACs for multi-objective samplers.
    directions: tuple[str, ...] = ("maximize",)

    def make_sampler(self, seed: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must say which Optuna sampler it adapts")

    def values(self, accuracy: float, point: Point) -> list[float]:
        """The objective values of a measured point, in the order of :attr:`directions`."""
        return [accuracy] if len(self.directions) == 1 else [accuracy, float(self.cost(point))]

    def replayed_attrs(self, index: int) -> dict[str, Any]:
        """System attributes the sampler would have written on the ``index``-th completed trial."""
        return {}

    def _study(self, history: Sequence[TrialRecord], distributions: dict[str, Any]):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(directions=list(self.directions),
                                    sampler=self.make_sampler(derived_seed(self.seed, len(history))))
        index = 0
        for record in history:
            params = dict(record.point.as_dict())
            if any(params[name] not in dist.choices for name, dist in distributions.items()):
                continue  # off the ladder (a point another strategy added): the sampler cannot represent it
            if record.state == COMPLETE and record.accuracy is not None:
                study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions,
                                                          values=self.values(record.accuracy, record.point),
                                                          system_attrs=self.replayed_attrs(index)))
                index += 1
        return study

    def propose(self, history: Sequence[TrialRecord], n: int = 1) -> list[Proposal]:
        import optuna

        taken = {r.point for r in history if r.settled or r.state == RUNNING}
        proposals = interrupted_first(history, taken, n)
        settled = [r for r in history if r.settled]
        distributions = self.space.to_optuna(on_ladder=True)
        study = self._study(settled, distributions)
        asks = 0
        while len(proposals) < n and asks < MAX_ASKS:
            asks += 1
            trial = study.ask(distributions)
            point = self.space.from_params(trial.params)
            if not self.fits(point):
                study.tell(trial, self.values(0.0, point))  # over the target: worst accuracy, never trained
                continue
            if point in taken:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)  # already measured or running
                continue
            taken.add(point)
            study.tell(trial, state=optuna.trial.TrialState.FAIL)  # a placeholder until the real result comes
            proposals.append(Proposal(point, {"step": len(settled) + len(proposals), "role": "sample", "sampler": self.name}))
        if len(proposals) < n:  # the sampler keeps proposing what cannot be trained: fall back on random order
            pending = list(history) + [TrialRecord(p.point, RUNNING) for p in proposals]
            for extra in self._fallback.propose(pending, n - len(proposals)):
                proposals.append(Proposal(extra.point, {**extra.attrs, "role": "sample", "sampler": "random-fallback"}))
        return proposals

    def is_finished(self, history: Sequence[TrialRecord]) -> bool:
        return self._fallback.is_finished(history)



class TPESearch(OptunaSamplerStrategy):
    """Optuna's tree-structured Parzen estimator over the ladder levels (maximising accuracy)."""

    name = "tpe"

    def make_sampler(self, seed: int) -> Any:
        import optuna

        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=10)


class NSGA2Search(OptunaSamplerStrategy):
    """Optuna's NSGA-II on two objectives: accuracy (up) against MACs (down).

    NSGA-II counts generations in each trial's system attributes; the adapter
    replays them from the order of completion (the k-th completed trial is
    in generation k // population), as a sequential run would have written them.
    """

    name = "nsga2"
    directions = ("maximize", "minimize")
    population = 8

    def make_sampler(self, seed: int) -> Any:
        import optuna

        return optuna.samplers.NSGAIISampler(seed=seed, population_size=self.population)

    def replayed_attrs(self, index: int) -> dict[str, Any]:
        import optuna

        return {optuna.samplers.NSGAIISampler._get_generation_key(): index // self.population}
