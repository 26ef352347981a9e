"""The coordinate strategy on a cheap deterministic objective: order, contraction, path, resume."""

from __future__ import annotations

import math
import random

import pytest

from nas.strategies import (
    COMPLETE,
    FAILED,
    RUNNING,
    TrialRecord,
    get_strategy_class,
    list_strategies,
)
from nas.strategies.coordinate import CoordinateExpansion
from spaces import NasError, get_space

SPACE = get_space("x3d")
TARGET = 2_000_000_000  # 2 GMACs, the X3D-S budget


def objective(point) -> float:
    """Saturating gains per axis, chosen so the paper's order wins: bottleneck, fast, spatial, depth, temporal."""
    levels = {
        "bottleneck": min(math.log2(point["bottleneck"]), 1.0) * 6,
        "rate": min(math.log2(24 / point["stride"]), 1.0) * 4 - max(math.log2(24 / point["stride"]) - 1, 0) * 1.5,
        "spatial": min(math.log(point["crop"] / 112, math.sqrt(2)), 1.0) * 3,
        "depth": min(math.log(point["depth"], 2.2), 1.0) * 2,
        "frames": min(math.log2(point["frames"]), 4.0) * 1,
        "width": min(math.log(point["width"], math.sqrt(2)), 1.0) * 0.5,
    }
    return round(sum(levels.values()), 6)


def evaluate(proposal) -> TrialRecord:
    point = proposal.point
    return TrialRecord(point, COMPLETE, objective(point), SPACE.complexity(point).macs, dict(proposal.attrs))


def run_to_end(strategy, history=None, batch=1, limit=200):
    history = list(history or [])
    for _ in range(limit):
        if strategy.is_finished(history):
            return history
        proposals = strategy.propose(history, batch)
        assert proposals, "an unfinished strategy with nothing running must propose"
        history += [evaluate(p) for p in proposals]
    raise AssertionError("the search did not finish")


def test_paper_order_then_temporal_contraction_onto_the_target():
    strategy = CoordinateExpansion(SPACE, target=TARGET)
    history = run_to_end(strategy)
    path = strategy.expansion_path(history)
    assert [s.operation for s in path] == [
        None,
        "bottleneck",
        "fast",
        "spatial",
        "depth",
        "temporal",
        "temporal",
        "temporal",
        "temporal",
    ]
    assert [s.role for s in path] == ["base"] + ["expansion"] * 6 + ["overshoot", "contraction"]
    assert path[5].point == SPACE.preset("XS")
    overshoot, contraction = path[-2].point, path[-1].point
    assert (overshoot["frames"], contraction["frames"]) == (16, 13) and contraction["stride"] == 12
    assert SPACE.complexity(contraction).macs <= TARGET < SPACE.complexity(contraction.replace(frames=14)).macs
    assert strategy.chosen(history) == contraction
    assert all(len(s.candidates) == 6 for s in path[1:-1])


def test_no_point_is_trained_twice_and_every_step_is_recorded():
    strategy = CoordinateExpansion(SPACE, target=TARGET)
    history = run_to_end(strategy, batch=6)
    points = [r.point for r in history]
    assert len(points) == len(set(points)) == 1 + 7 * 6 + 1
    steps = sorted({r.attrs["step"] for r in history})
    assert steps == list(range(8))
    assert {r.attrs["role"] for r in history} == {"base", "candidate", "contraction"}


def test_resuming_from_any_prefix_gives_the_same_search():
    full = run_to_end(CoordinateExpansion(SPACE, target=TARGET))
    rng = random.Random(0)
    for cut in sorted(rng.sample(range(1, len(full)), 5)):
        resumed = run_to_end(CoordinateExpansion(SPACE, target=TARGET), history=full[:cut])
        assert [r.point for r in resumed] == [r.point for r in full]


def test_running_trials_are_not_proposed_again_and_interrupted_ones_are_retried():
    strategy = CoordinateExpansion(SPACE, target=TARGET)
    base = strategy.propose([], 1)[0].point
    assert strategy.propose([TrialRecord(base, RUNNING)], 6) == []
    interrupted = TrialRecord(base, FAILED, attrs={"retry": True})
    assert strategy.propose([interrupted], 1)[0].point == base
    diverged = TrialRecord(base, FAILED, attrs={"reason": "loss became nan"})
    assert strategy.is_finished([diverged])


def test_a_failed_candidate_is_skipped_and_the_search_goes_on():
    strategy = CoordinateExpansion(SPACE, target=TARGET)
    history = [evaluate(p) for p in strategy.propose([], 1)]
    first_step = strategy.propose(history, 6)
    history += [
        TrialRecord(p.point, FAILED, attrs=dict(p.attrs)) if p.attrs["operation"] == "bottleneck" else evaluate(p)
        for p in first_step
    ]
    finished = run_to_end(strategy, history)
    assert strategy.expansion_path(finished)[1].operation == "fast"


@pytest.mark.parametrize("rule, winner", [("accuracy", "bottleneck"), ("gain_per_compute", "width")])
def test_selection_rules_disagree_where_they_should(rule, winner):
    """Bottleneck: most accurate (0.6 for +200 MACs); width: most accurate per added MAC (0.5 for +50)."""
    strategy = CoordinateExpansion(SPACE, target=TARGET, selection=rule)
    history = [TrialRecord(SPACE.base, COMPLETE, 0.0, 100)]
    measured = {"bottleneck": (0.6, 300), "width": (0.5, 150)}
    for proposal in strategy.propose(history, 6):
        accuracy, macs = measured.get(proposal.attrs["operation"], (0.1, 200))
        history.append(TrialRecord(proposal.point, COMPLETE, accuracy, macs, dict(proposal.attrs)))
    assert strategy.expansion_path(history)[1].operation == winner


def test_bad_settings_are_refused():
    with pytest.raises(NasError, match="below the base network"):
        CoordinateExpansion(SPACE, target=1000)
    with pytest.raises(NasError, match="selection rule"):
        CoordinateExpansion(SPACE, target=TARGET, selection="vibes")


def test_registry_lists_and_loads_coordinate():
    assert "coordinate" in list_strategies()
    assert get_strategy_class("coordinate") is CoordinateExpansion
    with pytest.raises(NasError, match="unknown strategy 'annealing'"):
        get_strategy_class("annealing")


def test_the_plan_follows_a_cost_that_grows_slower_than_macs():
    """Under a cost that grows by about sqrt(2) where MACs double (as latency does),
    the plan still counts the trainings."""
    cost = lambda point: int(SPACE.complexity(point).macs ** 0.5)  # noqa: E731
    target = 8 * cost(SPACE.base)
    strategy = CoordinateExpansion(SPACE, target=target, cost=cost)
    trained = len(run_to_end(strategy))
    planned = len(strategy.planned_costs([]))
    doubling_plan = 1 + len(SPACE.operations) * 4 + 1  # 2x per step: three steps to 8x, a fourth overshoots
    assert abs(planned - trained) <= len(SPACE.operations) < abs(doubling_plan - trained), (planned, trained)
