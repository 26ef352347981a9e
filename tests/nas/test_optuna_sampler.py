"""The Optuna adapter never trains a point over the target or twice, and cannot loop forever."""

from __future__ import annotations

import optuna
import pytest

from nas.strategies import COMPLETE, TrialRecord
from nas.strategies.optuna_sampler import OptunaSamplerStrategy, TPESearch
from spaces import get_space

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")

SPACE = get_space("x3d")
TARGET = 2_000_000_000


class StuckOn(OptunaSamplerStrategy):
    """A sampler that only ever proposes one point."""

    name = "stuck"

    def __init__(self, point, **kwargs) -> None:
        super().__init__(SPACE, target=TARGET, **kwargs)
        self.point = point

    def make_sampler(self, seed):
        return optuna.samplers.PartialFixedSampler(dict(self.point.as_dict()), optuna.samplers.RandomSampler(seed=seed))


def measured(point) -> TrialRecord:
    return TrialRecord(point, COMPLETE, 0.5, SPACE.complexity(point).macs)


def test_a_sampler_stuck_on_a_measured_point_falls_back_to_random_order():
    strategy = StuckOn(SPACE.base)
    (proposal,) = strategy.propose([measured(SPACE.base)], 1)
    assert proposal.point != SPACE.base and proposal.attrs["sampler"] == "random-fallback"
    assert SPACE.complexity(proposal.point).macs <= TARGET


def test_a_sampler_stuck_over_the_target_never_gets_that_point_trained():
    huge = SPACE.point(
        frames=16, stride=6, crop=312, width=2, bottleneck=2.25, depth=5
    )  # on the ladders, far over 2 GMACs
    strategy = StuckOn(huge)
    proposals = strategy.propose([], 3)
    assert len(proposals) == 3 and all(SPACE.complexity(p.point).macs <= TARGET for p in proposals)


def test_tpe_is_reproducible():
    history = [measured(p) for p in (SPACE.base, SPACE.preset("XS"))]
    first = [p.point for p in TPESearch(SPACE, target=TARGET, seed=4).propose(history, 3)]
    assert first == [p.point for p in TPESearch(SPACE, target=TARGET, seed=4).propose(history, 3)]
    assert len(set(first)) == 3 and not set(first) & {SPACE.base, SPACE.preset("XS")}


def test_tpe_learns_from_the_history_past_its_random_start_up():
    """Past its 10 random start-up trials TPE proposes where the history was good: the same 24 points scored one
    way (more frames is better) or the opposite way lead it to proposals with more frames, or fewer."""
    start = [p.point for p in TPESearch(SPACE, target=TARGET, seed=0).propose([], 24)]

    def frames_proposed(sign: int) -> float:
        frames = [sign * SPACE.encode(p)[SPACE.axis_names.index("frames")] for p in start]
        low = min(frames)
        history = [TrialRecord(p, COMPLETE, f - low, SPACE.complexity(p).macs) for p, f in zip(start, frames)]
        proposals = TPESearch(SPACE, target=TARGET, seed=1).propose(history, 8)
        return sum(p.point["frames"] for p in proposals) / len(proposals)

    assert frames_proposed(+1) > 2 * frames_proposed(-1)


def test_nsga2_sees_the_generations_a_sequential_run_would_have_written():
    from nas.strategies.optuna_sampler import NSGA2Search

    strategy = NSGA2Search(SPACE, target=TARGET, seed=1)
    history = []
    for _ in range(17):
        (proposal,) = strategy.propose(history, 1)
        history.append(measured(proposal.point))
    session = strategy.open_session(history)
    study = session.study
    trial = study.ask(session.distributions)
    key = optuna.samplers.NSGAIISampler._get_generation_key()
    assert sorted({t.system_attrs[key] for t in study.trials[:-1]}) == [0, 1, 2]
    assert study.trials[-1].system_attrs[key] == 2  # 17 completed: generation 2 is filling up
    assert study.directions == [optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE]
    assert trial.number == 17
