"""Optuna samplers as strategies (``tpe``), rebuilt from the trial history on every call.

Each ``propose`` replays the history into a throw-away in-memory study (the
space's ladder levels as categorical distributions) and asks a sampler seeded
from the strategy seed and the history's length, so the same history always
gives the same proposal: a killed search resumes exactly, with no sampler
state kept anywhere.

A sampler knows nothing of the compute target or of points already measured.
A proposal over the target is told to the throw-away study as a failure of
accuracy 0 (so the sampler learns to avoid the region) and never trained; a
point already measured, running or proposed in the same batch is skipped
(the shared loop of :mod:`nas.strategies.library`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spaces import Point

from .base import COMPLETE, PRUNED, TrialRecord, derived_seed
from .library import LibrarySamplerStrategy


class OptunaSamplerStrategy(LibrarySamplerStrategy):
    """Base of the Optuna adapters: subclasses name the sampler they build."""

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

    def open_session(self, settled: Sequence[TrialRecord]) -> _OptunaSession:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        distributions = self.space.to_optuna(on_ladder=True)
        study = optuna.create_study(
            directions=list(self.directions), sampler=self.make_sampler(derived_seed(self.seed, len(settled)))
        )
        index = 0
        for record in settled:
            if record.state == PRUNED and len(self.directions) == 1 and self.on_ladder(record.point):
                study.add_trial(_pruned_trial(record, distributions))  # learnt from at the epoch it reached
                continue
            if record.state != COMPLETE or record.accuracy is None or not self.on_ladder(record.point):
                continue  # off the ladder (a contraction another strategy added): the sampler cannot represent it
            study.add_trial(
                optuna.trial.create_trial(
                    params=dict(record.point.as_dict()),
                    distributions=distributions,
                    values=self.values(record.accuracy, record.point),
                    system_attrs=self.replayed_attrs(index),
                )
            )
            index += 1
        return _OptunaSession(self, study, distributions)


def _pruned_trial(record: TrialRecord, distributions: dict[str, Any]) -> Any:
    """A pruned trial as Optuna's samplers know one: its last reported top-1 at the epoch it was stopped."""
    import optuna

    epoch, top1 = int(record.attrs.get("pruned_at_epoch", 1)), float(record.attrs.get("pruned_top1", 0.0))
    return optuna.trial.create_trial(
        params=dict(record.point.as_dict()),
        distributions=distributions,
        state=optuna.trial.TrialState.PRUNED,
        intermediate_values={epoch: top1},
    )


class _OptunaSession:
    """Ask-and-tell on a throw-away in-memory study; every told trial is finished at once."""

    def __init__(self, strategy: OptunaSamplerStrategy, study: Any, distributions: dict[str, Any]) -> None:
        self.strategy, self.study, self.distributions = strategy, study, distributions
        self._trial: Any = None

    def ask(self) -> dict[str, Any]:
        self._trial = self.study.ask(self.distributions)
        return self._trial.params

    def tell_over_target(self, point: Point) -> None:
        self.study.tell(self._trial, self.strategy.values(0.0, point))  # the worst accuracy, never trained

    def tell_repeat(self, point: Point, accuracy: float | None) -> None:
        self._fail()

    def tell_pending(self, point: Point) -> None:
        self._fail()  # a placeholder: the session ends before the real result comes

    def _fail(self) -> None:
        import optuna

        self.study.tell(self._trial, state=optuna.trial.TrialState.FAIL)


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
        from ..private_apis import nsga2_generation_key

        return {nsga2_generation_key(): index // self.population}
