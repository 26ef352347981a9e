"""NNI's HPO tuners as strategies (``nni-tpe``, ``nni-evolution``), through one adapter.

The tuner is fed the space's NNI export (``choice`` over each axis' ladder
levels) and rebuilt from the trial history on every ``propose``, like the
Optuna adapters, so a killed search resumes exactly and no tuner state is
kept anywhere.  How the history goes back in depends on the tuner:

* tuners that can resume (TPE) take it through their public ``import_data``;
* tuners whose ``import_data`` does nothing (evolution, in NNI 3.0) replay
  it through their own loop: each settled trial is one ``generate_parameters``
  call (advancing the tuner's random state as the live run did) whose
  individual is the point actually measured, then ``receive_trial_result``.

NNI's evolution tuner draws from an unseeded NumPy state and from Python's
global ``random``; the adapter seeds the first and runs every tuner call
with the second seeded and restored afterwards, so the same seed and history
give the same proposal.  The shared ask/tell loop (target, repeats, fallback)
is :class:`~nas.strategies.library.LibrarySamplerStrategy`.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Iterator, Sequence
from typing import Any

from spaces import Point

from .base import COMPLETE, TrialRecord, derived_seed
from .library import LibrarySamplerStrategy


@contextlib.contextmanager
def seeded_global_random(seed: int) -> Iterator[None]:
    """Python's global ``random`` seeded for the block and restored after it (NNI's evolution uses it)."""
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


def _quiet_nni() -> None:
    import nni  # noqa: F401  (its import configures the "nni" logger; quiet it afterwards)

    logging.getLogger("nni").setLevel(logging.WARNING)  # NNI logs every tuner call at INFO


class NNITunerStrategy(LibrarySamplerStrategy):
    """Base of the NNI adapters: subclasses build the tuner and say how it takes a result."""

    def make_tuner(self, seed: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must say which NNI tuner it adapts")

    def replay(self, tuner: Any, records: Sequence[TrialRecord]) -> None:
        """Show the tuner the measured points, in the order they were settled."""
        raise NotImplementedError(f"{type(self).__name__} must say how its tuner takes the history")

    def open_session(self, settled: Sequence[TrialRecord]) -> _NNISession:
        _quiet_nni()
        seed = derived_seed(self.seed, len(settled))
        records = [r for r in settled if r.state == COMPLETE and r.accuracy is not None and self.on_ladder(r.point)]
        with seeded_global_random(seed):
            tuner = self.make_tuner(seed)
            tuner.update_search_space(self.space.to_nni(on_ladder=True))
            self.replay(tuner, records)
        return _NNISession(tuner, seed, first_id=len(records))


class _NNISession:
    """Ask-and-tell through the tuner's ``generate_parameters`` / ``receive_trial_result``."""

    def __init__(self, tuner: Any, seed: int, first_id: int) -> None:
        self.tuner, self.seed = tuner, seed
        self._next_id, self._asked = first_id, None

    def ask(self) -> dict[str, Any] | None:
        import nni

        self._asked = self._next_id
        self._next_id += 1
        with seeded_global_random(derived_seed(self.seed, self._asked)):
            try:
                return self.tuner.generate_parameters(self._asked)
            except nni.NoMoreTrialError:  # TPE's deduplicator has run out of unseen points
                return None
            except RuntimeError as error:  # evolution: every individual is out, pending (its "population is empty")
                from ..private_apis import NNI_POPULATION_EMPTY

                if NNI_POPULATION_EMPTY in str(error):
                    return None
                raise

    def tell_over_target(self, point: Point) -> None:
        self._receive(point, 0.0)  # the worst accuracy, never trained

    def tell_repeat(self, point: Point, accuracy: float | None) -> None:
        if accuracy is not None:
            self._receive(point, accuracy)  # measured before: the tuner learns the known result
        # running elsewhere: left pending in the tuner, as the live point it is

    def tell_pending(self, point: Point) -> None:
        """Left pending: TPE's constant liar accounts for it in the next ask of the batch."""

    def _receive(self, point: Point, accuracy: float) -> None:
        with seeded_global_random(derived_seed(self.seed, self._asked, "tell")):
            self.tuner.receive_trial_result(self._asked, dict(point.as_dict()), accuracy)


class NNITPESearch(NNITunerStrategy):
    """NNI's TPE tuner (10 random start-up trials, as the Optuna ``tpe``), maximising accuracy."""

    name = "nni-tpe"

    def make_tuner(self, seed: int) -> Any:
        from nni.algorithms.hpo.tpe_tuner import TpeTuner

        return TpeTuner(optimize_mode="maximize", seed=seed, tpe_args={"n_startup_jobs": 10})

    def replay(self, tuner: Any, records: Sequence[TrialRecord]) -> None:
        if records:
            tuner.import_data([{"parameter": dict(r.point.as_dict()), "value": r.accuracy} for r in records])


class NNIEvolutionSearch(NNITunerStrategy):
    """NNI's naive evolution tuner (population 10, as ``evolution``): pairwise tournaments, one-axis mutations."""

    name = "nni-evolution"
    population = 10

    def make_tuner(self, seed: int) -> Any:
        from ..private_apis import seeded_nni_evolution_tuner

        return seeded_nni_evolution_tuner(seed, self.population)

    def replay(self, tuner: Any, records: Sequence[TrialRecord]) -> None:
        from ..private_apis import replay_nni_evolution_trial

        for parameter_id, record in enumerate(records):
            replay_nni_evolution_trial(
                tuner, parameter_id, self._indexed(record.point), dict(record.point.as_dict()), record.accuracy
            )

    def _indexed(self, point: Point) -> dict[str, Any]:
        """A point in NNI's internal form for ``choice`` axes: ``{"_index": i, "_value": v}`` per axis."""
        return {
            name: {"_index": self.space.axis(name).ladder.index(value), "_value": value}
            for name, value in point.as_dict().items()
        }
