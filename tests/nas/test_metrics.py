"""Every comparison metric against values computed by hand."""

from __future__ import annotations

import math

import pytest

from nas.metrics import (
    best_so_far,
    hypervolume,
    mean_and_sem,
    models_to_reach,
    pareto_points,
    regret_curve,
    wilcoxon_p,
)


def test_best_so_far_and_regret():
    assert best_so_far([0.1, None, 0.3, 0.2]) == [0.1, 0.1, 0.3, 0.3]
    leading = best_so_far([None, 0.2])
    assert math.isnan(leading[0]) and leading[1] == 0.2
    assert regret_curve([0.1, None, 0.3, 0.2], optimum=0.5) == pytest.approx([0.4, 0.4, 0.2, 0.2])


def test_models_to_reach():
    assert models_to_reach([0.1, 0.3, 0.5], 0.3) == 2
    assert models_to_reach([0.1, None], 0.3) is None


def test_pareto_and_hypervolume_by_hand():
    points = [(1.0, 0.5), (2.0, 0.7), (3.0, 0.6), (2.0, 0.4)]
    assert pareto_points(points) == [(1.0, 0.5), (2.0, 0.7)]
    # (2 - 1) * 0.5 + (4 - 2) * 0.7 = 1.9, against the reference (cost 4, accuracy 0)
    assert hypervolume(points, (4.0, 0.0)) == pytest.approx(1.9)
    # a point beyond the reference cost adds nothing; the accuracy floor is subtracted
    assert hypervolume([(1.0, 0.5), (5.0, 0.9)], (4.0, 0.1)) == pytest.approx((4 - 1) * 0.4)
    assert hypervolume([], (4.0, 0.0)) == 0.0


def test_mean_and_sem_by_hand():
    mean, sem = mean_and_sem([1.0, 2.0, 3.0, 4.0])
    # sample variance (2.25 + 0.25 + 0.25 + 2.25) / 3 = 5/3; SEM = sqrt(5/3 / 4)
    assert mean == 2.5 and sem == pytest.approx(math.sqrt(5 / 12))
    assert mean_and_sem([0.7]) == (0.7, 0.0)


def test_wilcoxon_by_hand():
    # six positive differences 1..6: W- = 0, exact two-sided p = 2 / 2**6
    assert wilcoxon_p([1, 2, 3, 4, 5, 6], [0] * 6) == pytest.approx(2 / 64)
    assert wilcoxon_p([1, 2], [1, 2]) is None
    with pytest.raises(ValueError, match="same length"):
        wilcoxon_p([1], [1, 2])


def test_holm_by_hand():
    from nas.metrics import holm

    adjusted = holm({"a": 0.01, "b": 0.04, "c": 0.03, "random": None})
    assert adjusted == {"a": pytest.approx(0.03), "c": pytest.approx(0.06), "b": pytest.approx(0.06), "random": None}
    assert holm({"a": 0.6, "b": 0.5}) == {"b": pytest.approx(1.0), "a": pytest.approx(1.0)}  # capped at 1, monotone


def test_average_ranks_by_hand():
    from nas.metrics import average_ranks

    ranks = average_ranks({"a": [0.3, 0.1, 0.2], "b": [0.2, 0.2, 0.2], "c": [0.1, 0.3, 0.2]})
    assert ranks == {"a": pytest.approx((1 + 3 + 2) / 3), "b": pytest.approx((2 + 2 + 2) / 3), "c": pytest.approx(2.0)}
    with pytest.raises(ValueError, match="every seed"):
        average_ranks({"a": [0.1], "b": [0.1, 0.2]})
