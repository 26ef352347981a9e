"""The NNI adapter: seeded and stateless despite NNI's global randomness, replaying evolution through its own loop."""

from __future__ import annotations

import random

from nas.strategies import COMPLETE, TrialRecord
from nas.strategies.nni_tuner import (
    NNIEvolutionSearch,
    NNITPESearch,
    NNITunerStrategy,
    seeded_global_random,
)
from spaces import get_space

SPACE = get_space("x3d")
#: A target every point fits under: the largest network of the space (every axis at its top).
EVERYTHING = SPACE.complexity(SPACE.largest).macs


def measured(point, accuracy: float) -> TrialRecord:
    return TrialRecord(point, COMPLETE, accuracy, SPACE.complexity(point).macs)


def history_of(strategy, length: int) -> list[TrialRecord]:
    history: list[TrialRecord] = []
    for i in range(length):
        (proposal,) = strategy.propose(history, 1)
        history.append(measured(proposal.point, (i * 37 % 11) / 11))
    return history


def test_evolution_does_not_depend_on_or_disturb_the_global_random_state():
    random.seed(1)
    first = [p.point for p in NNIEvolutionSearch(SPACE, target=EVERYTHING, seed=3).propose([], 3)]
    after_first = random.random()
    random.seed(99)
    again = [p.point for p in NNIEvolutionSearch(SPACE, target=EVERYTHING, seed=3).propose([], 3)]
    random.seed(1)
    NNIEvolutionSearch(SPACE, target=EVERYTHING, seed=3).propose([], 3)
    assert first == again and random.random() == after_first
    assert first != [p.point for p in NNIEvolutionSearch(SPACE, target=EVERYTHING, seed=4).propose([], 3)]


def test_evolution_after_its_initial_population_mutates_one_axis_of_a_measured_point():
    strategy = NNIEvolutionSearch(SPACE, target=EVERYTHING, seed=0)
    history = history_of(strategy, 14)
    (proposal,) = strategy.propose(history, 1)
    assert proposal.attrs["sampler"] == "nni-evolution"
    differences = [
        sum(a != b for a, b in zip(proposal.point.as_dict().values(), r.point.as_dict().values())) for r in history
    ]
    assert min(differences) == 1, differences


def test_tpe_takes_the_history_and_never_repeats_it():
    strategy = NNITPESearch(SPACE, target=EVERYTHING, seed=0)
    history = history_of(strategy, 12)
    assert len({r.point for r in history}) == 12
    later = [p.point for p in strategy.propose(history, 4)]
    assert len(set(later)) == 4 and not set(later) & {r.point for r in history}
    assert later == [p.point for p in NNITPESearch(SPACE, target=EVERYTHING, seed=0).propose(history, 4)]


class StuckTuner(NNITunerStrategy):
    """A tuner that only ever proposes the base point."""

    name = "stuck"

    def make_tuner(self, seed):
        class Stuck:
            def update_search_space(self, space):
                pass

            def generate_parameters(self, parameter_id):
                return dict(SPACE.base.as_dict())

            def receive_trial_result(self, parameter_id, parameters, value):
                pass

        return Stuck()

    def replay(self, tuner, records):
        pass


def test_a_tuner_stuck_on_a_measured_point_falls_back_to_random_order():
    (proposal,) = StuckTuner(SPACE, target=EVERYTHING).propose([measured(SPACE.base, 0.5)], 1)
    assert proposal.point != SPACE.base and proposal.attrs["sampler"] == "random-fallback"


def test_seeded_global_random_restores_the_callers_state():
    random.seed(5)
    expected = random.Random(5).random()
    with seeded_global_random(123):
        random.random()
    assert random.random() == expected


def test_evolution_asked_for_more_than_its_population_falls_back_instead_of_failing():
    proposals = NNIEvolutionSearch(SPACE, target=EVERYTHING, seed=0).propose([], 12)
    assert len({p.point for p in proposals}) == 12
    assert [p.attrs["sampler"] for p in proposals].count("random-fallback") >= 2
