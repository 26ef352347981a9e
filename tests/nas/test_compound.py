"""Compound scaling: the direction grid under the cost constraint, the choice, the scaling up, and the cost it obeys.

The contract every strategy keeps (resume, determinism, running/failed
points, an end) is checked in ``test_strategy_conformance.py``.
"""

from __future__ import annotations

import math

import pytest

from nas.strategies import COMPLETE, FAILED, TrialRecord
from nas.strategies.compound import TOLERANCE, CompoundScaling, ladder_value
from spaces import NasError, get_space
from tests.spaces.toy_space import ToySpace


def run(strategy: CompoundScaling, score, fails=lambda point: False) -> list[TrialRecord]:
    history: list[TrialRecord] = []
    while not strategy.is_finished(history):
        for proposal in strategy.propose(history, 100):
            state = FAILED if fails(proposal.point) else COMPLETE
            history.append(
                TrialRecord(
                    proposal.point, state, score(proposal.point), strategy.cost_of(proposal.point), dict(proposal.attrs)
                )
            )
    return history


def test_the_grid_shares_one_ladder_step_among_the_axes_in_halves():
    strategy = CompoundScaling(ToySpace(), target=10**8)
    labels = [d.label for d in strategy.directions()]
    assert labels == [
        "channels",
        "0.5channels+0.5layers",
        "0.5channels+0.5resolution",
        "layers",
        "0.5layers+0.5resolution",
        "resolution",
    ]
    assert all(math.isclose(sum(s for _, s in d.shares), 1) for d in strategy.directions())
    x3d = CompoundScaling(get_space("x3d"), target=10**12)
    assert x3d.scalable_axes() == ("frames", "crop", "width", "bottleneck", "depth")  # the stride costs no MACs
    assert len(x3d.directions()) == 15  # C(5 + 1, 2)
    assert [d.label for d in CompoundScaling(ToySpace(), target=10**8, resolution=1).directions()] == [
        "channels",
        "layers",
        "resolution",
    ]


def test_ladder_values_between_levels_are_geometric_on_log_axes_and_linear_otherwise():
    space = ToySpace()
    assert ladder_value(space.axis("channels"), 1.5) == round(8 * 2**0.5)  # between 8 and 16: 11
    assert ladder_value(space.axis("layers"), 1.5) == 2  # linear axis: 2.5 rounds to the even 2
    assert ladder_value(space.axis("resolution"), 7) == 32  # clamped to the top of the ladder
    assert ladder_value(get_space("x3d").axis("width"), 2.5) == round(math.sqrt(1.4142), 4)  # between 1 and 1.4142


def test_phi_one_costs_about_twice_the_base_under_the_strategys_own_cost(monkeypatch):
    """A cost that is not MACs (a stand-in for latency: layers are dear, pixels cheap) decides the grid alone."""
    space = ToySpace()
    latency = lambda p: 1000 * p["layers"] ** 3 + p["channels"] * p["resolution"]  # noqa: E731
    monkeypatch.setattr(ToySpace, "complexity", lambda *a, **k: pytest.fail("compound read MACs, not its cost"))
    strategy = CompoundScaling(space, target=20 * latency(space.base), cost=latency)
    grid = strategy.grid()
    assert grid and len({g.point for g in grid}) == len(grid)
    for unit in grid:
        ratio = latency(unit.point) / latency(space.base)
        assert 2 / TOLERANCE <= ratio <= 2 * TOLERANCE, (unit.direction.label, ratio)
    assert "layers" not in {g.direction.label for g in grid}  # one more layer costs 8x here: not "about 2x"


def test_the_best_direction_is_scaled_to_the_target():
    space = get_space("x3d", base_crop=48, base_stride=8, stage_blocks=[1, 1, 2, 1], head_width=256)
    strategy = CompoundScaling(space, target=25_000_000)
    history = run(strategy, score=lambda p: p["crop"] / 1000 - p["stride"] / 1e6)  # crop matters most
    winner = max((r for r in history if r.attrs["role"] == "candidate"), key=lambda r: r.accuracy)
    assert winner.attrs["operation"] == "crop"
    scaled = [r for r in history if r.attrs["role"] == "scaled"]
    assert scaled and all(r.attrs["operation"] == "crop" for r in scaled)
    costs = [strategy.cost_of(r.point) for r in [winner, *scaled]]
    assert costs == sorted(costs) and costs[-1] <= strategy.target
    assert all(
        1.5 < later / earlier < 2.6 for earlier, later in zip(costs, costs[1:-1])
    )  # one doubling per unit of phi
    assert strategy.chosen(history) == scaled[-1].point
    path = strategy.expansion_path(history)
    assert [s.role for s in path][:2] == ["base", "expansion"] and len(path[1].candidates) == len(strategy.grid())
    assert [s.point for s in path[2:]] == [r.point for r in scaled]


def test_a_direction_whose_scaled_models_fail_gives_way_to_the_next_best():
    strategy = CompoundScaling(ToySpace(), target=40 * ToySpace().complexity(ToySpace().base).macs)
    score = lambda p: p["channels"] + p["resolution"] / 100  # noqa: E731  channels first, resolution second
    history = run(strategy, score, fails=lambda p: p["channels"] >= 32)  # wide models cannot be trained here
    scaled = [r for r in history if r.attrs["role"] == "scaled"]
    assert scaled[0].attrs["operation"] == "channels" and scaled[0].state == FAILED
    assert scaled[-1].state == COMPLETE and scaled[-1].attrs["operation"] != "channels"
    assert strategy.chosen(history) == scaled[-1].point


def test_a_target_below_twice_the_base_shrinks_the_unit():
    space = ToySpace()
    target = int(1.5 * space.complexity(space.base).macs)
    strategy = CompoundScaling(space, target=target)
    assert strategy.grid() and all(strategy.fits(g.point) for g in strategy.grid())


@pytest.mark.parametrize("resolution", [0, 5, 1.5, True])
def test_a_bad_resolution_is_refused_with_its_value(resolution):
    with pytest.raises(NasError, match=f"resolution.*{resolution!r}"):
        CompoundScaling(ToySpace(), target=10**8, resolution=resolution)
