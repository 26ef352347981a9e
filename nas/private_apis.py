"""Every use of Optuna's and NNI's private APIs, in one place.

Each is something the public API does not offer.  ``pyproject.toml`` bounds
both libraries' versions, and ``tests/nas/test_private_apis.py`` fails loudly
(naming the function) when a new release moves one of them.  NNI was archived
in September 2024; 3.0 is its last release, so its internals are frozen.
"""

from __future__ import annotations

from typing import Any


def heartbeat_enabled(storage: Any) -> bool:
    """Whether an Optuna storage records trial heartbeats (``optuna.storages._heartbeat``)."""
    from optuna.storages import _heartbeat

    return bool(_heartbeat.is_heartbeat_enabled(storage))


def trial_id(trial: Any) -> int:
    """A FrozenTrial's storage id (``FrozenTrial._trial_id``): the key every storage call takes."""
    return int(trial._trial_id)


def nsga2_generation_key() -> str:
    """The system attribute NSGA-II reads a trial's generation from (``NSGAIISampler._get_generation_key``)."""
    import optuna

    return optuna.samplers.NSGAIISampler._get_generation_key()


def seeded_nni_evolution_tuner(seed: int, population: int) -> Any:
    """NNI's EvolutionTuner with its first population drawn from a seeded NumPy state (NNI leaves it unseeded).

    Reads and sets the tuner's ``random_state``, ``population``, ``population_size`` and calls
    ``_random_generate_individual``.
    """
    import numpy as np
    from nni.algorithms.hpo.evolution_tuner import EvolutionTuner

    class SeededEvolutionTuner(EvolutionTuner):
        def update_search_space(self, search_space: dict[str, Any]) -> None:
            super().update_search_space(search_space)
            self.random_state = np.random.RandomState(seed)
            self.population = []
            for _ in range(self.population_size):
                self._random_generate_individual()

    return SeededEvolutionTuner(optimize_mode="maximize", population_size=population)


def replay_nni_evolution_trial(
    tuner: Any, parameter_id: int, indexed: dict[str, Any], params: dict[str, Any], result: float | None
) -> None:
    """Feed an NNI evolution tuner one finished trial as if it had proposed it (a resumed search's history).

    Lets the tuner take its own step, then puts ``indexed`` (NNI's ``{"_index", "_value"}`` form) in
    ``running_trials`` as an ``evolution_tuner.Individual`` before reporting the result.
    """
    from nni.algorithms.hpo.evolution_tuner import Individual

    tuner.generate_parameters(parameter_id)  # the tuner's own step: pops or mutates an individual
    tuner.running_trials[parameter_id] = Individual(config=indexed)
    tuner.receive_trial_result(parameter_id, params, result)


#: What NNI's evolution tuner says (as a RuntimeError) when every individual is out being evaluated.
NNI_POPULATION_EMPTY = "population is empty"
