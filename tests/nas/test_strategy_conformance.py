"""The contract every registered strategy keeps, on every space: valid proposals within the target,
no repeats, the same search for the same seed, resumable from any prefix of its history,
running points never proposed twice, interrupted points retried, and an end (or a budget)."""

from __future__ import annotations

import random

import pytest

from nas.strategies import (
    COMPLETE,
    FAILED,
    RUNNING,
    TrialRecord,
    get_strategy_class,
)
from spaces import NasError
from tests.conftest import all_space_names, all_strategy_names, space_for, strategy_for

BUDGET = 30


def objective(space, point) -> float:
    """A smooth deterministic score that grows with every axis (each encoded in [0, 1])."""
    return round(sum((i + 1) * value for i, value in enumerate(space.encode(point))), 9)


def target_for(space) -> int:
    """About four doublings above the base: room for a few steps on every space."""
    return 16 * space.complexity(space.base).macs


def make(name: str, space, seed: int = 0):
    return get_strategy_class(name)(space, target=target_for(space), seed=seed)


def run(strategy, space, history=(), batch: int = 1, budget: int = BUDGET) -> list[TrialRecord]:
    history = list(history)
    while len([r for r in history if r.settled]) < budget and not strategy.is_finished(history):
        proposals = strategy.propose(history, batch)
        assert proposals, f"{strategy.name}: unfinished, nothing running, yet nothing proposed"
        for proposal in proposals:
            macs = space.complexity(proposal.point).macs
            history.append(
                TrialRecord(proposal.point, COMPLETE, objective(space, proposal.point), macs, dict(proposal.attrs))
            )
    return history


@pytest.fixture(params=all_strategy_names())
def strategy_name(request):
    return strategy_for(request, request.param)


@pytest.fixture(params=all_space_names())
def space(request, toy_space_registered):
    return space_for(request, request.param)


def test_proposals_are_valid_within_the_target_and_never_repeated(strategy_name, space):
    strategy = make(strategy_name, space)
    history = run(strategy, space, batch=3)
    points = [r.point for r in history]
    assert len(points) == len(set(points)), "a point was proposed twice"
    for point in points:
        assert space.validate(point) == point
        overshooting = strategy.overshoots and any(
            r.point == point and r.attrs.get("role") == "candidate" for r in history
        )
        assert space.complexity(point).macs <= strategy.target or overshooting, f"{point.key} is over the target"


def test_the_same_seed_gives_the_same_search(strategy_name, space):
    first = [r.point for r in run(make(strategy_name, space, seed=3), space)]
    second = [r.point for r in run(make(strategy_name, space, seed=3), space)]
    assert first == second


def test_a_search_resumes_from_any_prefix_of_its_history(strategy_name, space):
    full = run(make(strategy_name, space), space)
    for cut in sorted(random.Random(1).sample(range(1, len(full)), min(4, len(full) - 1))):
        resumed = run(make(strategy_name, space), space, history=full[:cut])  # a fresh instance: no memory
        assert [r.point for r in resumed] == [r.point for r in full]


def test_running_points_wait_and_interrupted_points_come_back(strategy_name, space):
    strategy = make(strategy_name, space)
    history = run(strategy, space, budget=2)
    (proposal,) = strategy.propose(history, 1)
    running = history + [TrialRecord(proposal.point, RUNNING)]
    assert proposal.point not in [p.point for p in strategy.propose(running, 5)]
    interrupted = history + [TrialRecord(proposal.point, FAILED, attrs={"retry": True})]
    assert strategy.propose(interrupted, 1)[0].point == proposal.point
    failed_for_good = history + [TrialRecord(proposal.point, FAILED, attrs={"retry": False})]
    assert proposal.point not in [p.point for p in strategy.propose(failed_for_good, 5)]


def test_it_ends_or_stops_at_the_budget(strategy_name, space):
    strategy = make(strategy_name, space)
    history = run(strategy, space, budget=BUDGET)
    assert strategy.is_finished(history) or len(history) == BUDGET
    if strategy.terminates:
        assert strategy.is_finished(run(strategy, space, budget=10_000))
    best = strategy.best(history)
    assert best is not None and best.cost <= strategy.target


def test_a_target_below_the_base_is_refused(strategy_name, space):
    with pytest.raises(NasError, match="below the base network"):
        get_strategy_class(strategy_name)(space, target=space.complexity(space.base).macs - 1)


def test_a_strategy_that_names_parents_names_a_finished_point_one_operation_away(strategy_name, space):
    """Inherited weights (--inherit) start a proposal from its ``parent``: it must be complete when proposed, and
    the proposal its expansion by the named operation (or, for a contraction, a point on that operation's way)."""
    strategy = make(strategy_name, space)
    if not strategy.names_parents:
        pytest.skip(f"{strategy_name} does not grow its proposals from parents (--inherit refuses it)")
    history = run(strategy, space)
    for index, record in enumerate(history):
        parent = record.attrs.get("parent")
        if record.attrs.get("role") == "base":
            assert parent is None
            continue
        before = {r.point.key: r for r in history[:index]}
        assert parent in before and before[parent].state == COMPLETE, (record.point.key, parent)
        operation, start = record.attrs["operation"], before[parent].point
        if record.attrs.get("role") == "contraction":  # a smaller step of the operation: at or above the parent
            axes = {axis for axis, value in start.as_dict().items() if record.point[axis] != value}
            assert axes and all(record.point[a] >= start[a] for a in axes if a != "stride"), (start, record.point)
        else:
            assert space.expand(start, operation) == record.point
