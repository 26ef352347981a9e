"""Regularised evolution: a random first population, then one-axis ladder mutations of tournament winners."""

from __future__ import annotations

import random

import pytest

from nas.strategies import COMPLETE, TrialRecord
from nas.strategies.evolution import RegularisedEvolution
from spaces import NasError, get_space
from tests.nas.test_coordinate import objective

SPACE = get_space("x3d")
TARGET = 2_000_000_000


def grow(strategy, count):
    history = []
    for _ in range(count):
        (proposal,) = strategy.propose(history, 1)
        point = proposal.point
        history.append(
            TrialRecord(point, COMPLETE, objective(point), SPACE.complexity(point).macs, dict(proposal.attrs))
        )
    return history


def test_a_mutation_moves_one_axis_one_ladder_level():
    strategy = RegularisedEvolution(SPACE, target=TARGET)
    rng = random.Random(0)
    for _ in range(50):
        child = strategy.mutate(SPACE.preset("XS"), rng)
        if child is None:
            continue
        changed = [a for a in SPACE.axes if child[a.name] != SPACE.preset("XS")[a.name]]
        assert len(changed) == 1
        axis = changed[0]
        assert child[axis.name] in (
            axis.step_up(SPACE.preset("XS")[axis.name]),
            axis.step_down(SPACE.preset("XS")[axis.name]),
        )


def test_children_come_from_the_living_population_and_fit_the_target():
    strategy = RegularisedEvolution(SPACE, target=TARGET, population=6, sample=2)
    history = grow(strategy, 30)
    assert [r.attrs["role"] for r in history[:6]] == ["initial"] * 6
    for index, record in enumerate(history[6:], start=6):
        assert record.attrs["role"] == "child" and record.cost <= TARGET
        living = {r.point.key for r in history[index - 6 : index]}
        assert record.attrs["parent"] in living  # aged-out members are never parents
    assert max(r.accuracy for r in history[6:]) >= max(r.accuracy for r in history[:6])


def test_bad_population_settings_are_refused():
    with pytest.raises(NasError, match="population"):
        RegularisedEvolution(SPACE, target=TARGET, population=3, sample=5)
