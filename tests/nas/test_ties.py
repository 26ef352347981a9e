"""Noise in every decision: repeats merged per point, ties detected, and the tie rules on a deterministic objective."""

from __future__ import annotations

import random

import pytest

from nas.strategies.base import (
    COMPLETE,
    FAILED,
    RUNNING,
    TrialRecord,
    aggregate_runs,
    combined_se,
    noise_of,
    owed_runs,
    repeat_of,
)
from nas.strategies.coordinate import CoordinateExpansion
from spaces import NasError, get_space

SPACE = get_space("x3d")
TARGET = 2_000_000_000
SE = 0.014  # a top-1's standard error over 1,200 validation clips, near 0.4


def true_accuracy(point) -> float:
    """A deterministic objective: step 1's fast and temporal candidates are 0.002 apart, step 2 is clear."""
    span = point["frames"] * point["stride"]
    gains = {
        "rate": 0.06 if point["stride"] < 24 else 0.0,
        "duration": 0.058 if span > 24 else 0.0,
        "crop": 0.02 * (point["crop"] > 112),
        "width": 0.01 * (point["width"] > 1),
        "bottleneck": 0.03 * (point["bottleneck"] > 1),
        "depth": 0.015 * (point["depth"] > 1),
    }
    return 0.3 + sum(gains.values())


def measure(proposal, noise: float = 0.0) -> TrialRecord:
    """One run of a proposal: the objective plus seeded noise (the run's own), with the validation split's error."""
    point = proposal.point
    repeat = int(proposal.attrs.get("repeat", 0))
    rng = random.Random(f"{point.key}:{repeat}")
    accuracy = true_accuracy(point) + rng.gauss(0, noise)
    return TrialRecord(
        point, COMPLETE, accuracy, SPACE.complexity(point).macs, {**proposal.attrs, "repeat": repeat, "accuracy_se": SE}
    )


def search(strategy, noise: float = 0.0, repeats: int = 1, limit: int = 400) -> list[TrialRecord]:
    """Runs of a whole search, owed repeats first, as the runner orders them."""
    runs: list[TrialRecord] = []
    for _ in range(limit):
        view = aggregate_runs(runs, repeats)
        owed = owed_runs(runs, repeats)
        if not owed and strategy.is_finished(view):
            return runs
        proposals = owed or strategy.propose(view, 1)
        assert proposals, "an unfinished search with nothing running must propose"
        proposal = proposals[0]
        if "repeat" not in proposal.attrs:
            proposal = type(proposal)(proposal.point, {**proposal.attrs, "repeat": 0})
        runs.append(measure(proposal, noise))
    raise AssertionError("the search did not finish")


def test_one_run_per_point_leaves_the_history_as_it_is():
    records = [TrialRecord(SPACE.base, COMPLETE, 0.5, 1, {"accuracy_se": 0.01})]
    assert aggregate_runs(records) == records


def test_runs_of_a_point_merge_into_their_mean_with_the_combined_error():
    base = SPACE.base
    runs = [
        TrialRecord(base, COMPLETE, a, 7, {"repeat": r, "accuracy_se": 0.01, "step": 0})
        for r, a in enumerate((0.4, 0.5, 0.6))
    ]
    (merged,) = aggregate_runs(runs, repeats=3)
    assert merged.state == COMPLETE and merged.accuracy == pytest.approx(0.5)
    assert merged.attrs["runs"] == 3 and merged.attrs["accuracy_runs"] == [0.4, 0.5, 0.6]
    assert merged.attrs["accuracy_se"] == pytest.approx((0.01**2 + 0.01 / 3) ** 0.5)  # sample variance 0.01
    assert combined_se([0.5], 0.02) == 0.02 and combined_se([0.5, 0.6], None) is None


def test_a_point_is_taken_until_its_repeats_are_done_and_the_missing_ones_are_owed():
    base = SPACE.base
    first = TrialRecord(base, COMPLETE, 0.5, 7, {"repeat": 0, "accuracy_se": 0.01, "step": 0, "role": "base"})
    (merged,) = aggregate_runs([first], repeats=2)
    assert merged.state == RUNNING and not merged.settled
    (owed,) = owed_runs([first], repeats=2)
    assert owed.point == base and owed.attrs == {"step": 0, "role": "base", "repeat": 1}
    interrupted = TrialRecord(base, FAILED, None, 7, {"repeat": 1, "retry": True})
    assert owed_runs([first, interrupted], repeats=2)[0].attrs["repeat"] == 1  # an interrupted run is owed again
    running = TrialRecord(base, RUNNING, None, 7, {"repeat": 1})
    assert owed_runs([first, running], repeats=2) == []
    diverged = TrialRecord(base, FAILED, None, 7, {"repeat": 1, "retry": False})
    (failed,) = aggregate_runs([first, diverged], repeats=2)
    assert failed.state == FAILED and failed.settled and owed_runs([first, diverged], repeats=2) == []


def test_a_clear_winner_is_separated_and_recorded_with_its_margin():
    strategy = CoordinateExpansion(SPACE, target=TARGET)
    history = search(strategy)
    step = strategy.expansion_path(aggregate_runs(history))[2]
    assert step.operation == "temporal" and step.decision.outcome == "separated" and not step.decision.tied
    assert step.decision.margin > strategy.tie_sigmas * step.decision.noise
    assert step.decision.noise == pytest.approx((2 * SE**2) ** 0.5)


def test_a_tie_is_retrained_under_more_seeds_up_to_the_cap_then_the_cheaper_wins():
    strategy = CoordinateExpansion(SPACE, target=TARGET, tie_max_runs=3)
    runs = search(strategy)
    first = strategy.expansion_path(aggregate_runs(runs))[1]
    assert first.decision.tie and set(first.decision.tied) == {"fast", "temporal"}
    assert first.decision.rule == "reseed" and first.decision.outcome == "cheaper of tied"
    step_one = [r for r in runs if r.attrs.get("step") == 1]
    seeds = {
        op: sorted(repeat_of(r) for r in step_one if r.attrs["operation"] == op) for op in ("fast", "temporal", "width")
    }
    assert seeds == {"fast": [0, 1, 2], "temporal": [0, 1, 2], "width": [0]}  # only the tied ones, up to 3 runs
    cheaper = min(("fast", "temporal"), key=lambda op: SPACE.complexity(first.candidates[op]).macs)
    assert first.operation == cheaper


@pytest.mark.parametrize("rule, outcome", [("cheaper", "cheaper of tied"), ("best", "best of tied")])
def test_the_other_tie_rules_decide_at_once_without_more_seeds(rule, outcome):
    strategy = CoordinateExpansion(SPACE, target=TARGET, tie_rule=rule)
    runs = search(strategy)
    assert all(repeat_of(r) == 0 for r in runs)
    first = strategy.expansion_path(aggregate_runs(runs))[1]
    assert first.decision.tie and first.decision.outcome == outcome
    best = max(first.decision.tied, key=lambda op: true_accuracy(first.candidates[op]))
    cheapest = min(first.decision.tied, key=lambda op: SPACE.complexity(first.candidates[op]).macs)
    assert first.operation == (best if rule == "best" else cheapest)


def test_records_without_a_measured_error_are_never_tied():
    strategy = CoordinateExpansion(SPACE, target=TARGET)
    history = []
    while not strategy.is_finished(history):
        proposal = strategy.propose(history, 1)[0]
        record = measure(proposal)
        history.append(
            TrialRecord(
                record.point,
                COMPLETE,
                record.accuracy,
                record.cost,
                {k: v for k, v in record.attrs.items() if k != "accuracy_se"},
            )
        )
    assert not any(step.decision.tied for step in strategy.expansion_path(history)[1:] if step.decision)


def test_the_same_runs_give_the_same_path_and_a_resumed_search_repeats_nothing():
    whole = search(CoordinateExpansion(SPACE, target=TARGET), repeats=2)
    half = whole[: len(whole) // 2]
    strategy = CoordinateExpansion(SPACE, target=TARGET)
    rest = []
    for _ in range(400):
        runs = half + rest
        view = aggregate_runs(runs, 2)
        owed = owed_runs(runs, 2)
        if not owed and strategy.is_finished(view):
            break
        proposal = (owed or strategy.propose(view, 1))[0]
        rest.append(measure(type(proposal)(proposal.point, {"repeat": 0, **proposal.attrs})))
    assert [(r.point, repeat_of(r)) for r in half + rest] == [(r.point, repeat_of(r)) for r in whole]


@pytest.mark.parametrize(
    "options, message",
    [
        ({"tie_rule": "coin"}, "unknown tie rule 'coin'"),
        ({"tie_sigmas": -1}, "--tie-sigmas must be a number from 0 to 10"),
        ({"tie_sigmas": float("nan")}, "--tie-sigmas must be a number from 0 to 10"),
        ({"tie_max_runs": 0}, "--tie-max-runs must be a whole number"),
        ({"tie_max_runs": 2.5}, "--tie-max-runs must be a whole number"),
        ({"seed_spread": -0.01}, "--seed-spread must be a standard deviation"),
        ({"seed_spread": 1.5}, "--seed-spread must be a standard deviation"),
    ],
)
def test_bad_tie_settings_name_the_value(options, message):
    with pytest.raises(NasError, match=message.replace("(", r"\(").replace(")", r"\)")):
        CoordinateExpansion(SPACE, target=TARGET, **options)


def test_equally_cheap_tied_candidates_go_to_the_higher_mean_not_the_operation_order():
    """fast and temporal cost the same MACs; temporal's mean is higher, so the cheaper rule takes it."""
    strategy = CoordinateExpansion(SPACE, target=TARGET, tie_rule="cheaper")
    base = TrialRecord(SPACE.base, COMPLETE, 0.3, SPACE.complexity(SPACE.base).macs, {"accuracy_se": SE, "step": 0})
    history = [base]
    for op, point in SPACE.expansions(SPACE.base).items():
        accuracy = {"fast": 0.450, "temporal": 0.456}.get(op, 0.30)
        history.append(
            TrialRecord(
                point,
                COMPLETE,
                accuracy,
                SPACE.complexity(point).macs,
                {"accuracy_se": SE, "step": 1, "operation": op, "role": "candidate"},
            )
        )
    step = strategy.expansion_path(history)[1]
    assert step.decision.tie and set(step.decision.tied) == {"fast", "temporal"}
    assert SPACE.complexity(step.candidates["fast"]).macs == SPACE.complexity(step.candidates["temporal"]).macs
    assert step.operation == "temporal"


def test_a_seed_spread_is_a_floor_under_every_candidates_noise():
    single = TrialRecord(SPACE.base, COMPLETE, 0.4, 1, {"accuracy_se": SE})
    assert noise_of(single) is noise_of(single, 0.0) == SE  # no spread assumed: the validation error, as it was
    assert noise_of(single, 0.04) == pytest.approx((SE**2 + 0.04**2) ** 0.5)
    runs = [
        TrialRecord(SPACE.base, COMPLETE, a, 1, {"accuracy_se": SE, "repeat": k})
        for k, a in enumerate([0.50, 0.45, 0.40])
    ]
    (merged,) = aggregate_runs(runs, 3)
    spread = 0.05**2  # the runs' sample variance
    assert noise_of(merged) == pytest.approx(combined_se([0.50, 0.45, 0.40], SE))
    assert noise_of(merged, 0.04) == pytest.approx((SE**2 + spread / 3) ** 0.5)  # measured spread above the floor
    assert noise_of(merged, 0.08) == pytest.approx((SE**2 + 0.08**2 / 3) ** 0.5)  # floor above the measured spread


def test_with_a_seed_spread_a_single_run_win_within_it_is_a_tie_and_retrained():
    """Step 2's temporal beats bottleneck by 0.028 (1.4 validation errors of the difference): separated on the
    validation error alone, a tie once a seed spread of 0.03 is assumed, so the reseed rule trains the tied
    candidates again (and, still tied after 3 runs each, takes the cheaper)."""
    plain = CoordinateExpansion(SPACE, target=TARGET)
    step = plain.expansion_path(aggregate_runs(search(plain)))[2]
    assert step.decision.outcome == "separated"
    spread = CoordinateExpansion(SPACE, target=TARGET, seed_spread=0.03)
    runs = search(spread)
    step = spread.expansion_path(aggregate_runs(runs))[2]
    assert step.decision.tie and "temporal" in step.decision.tied
    assert step.decision.noise == pytest.approx(2**0.5 * (SE**2 + 0.03**2 / 3) ** 0.5)  # after 3 runs each
    assert max(repeat_of(r) for r in runs if r.attrs.get("step") == 2) == 2


def test_a_seed_spread_is_stored_only_where_it_was_set_and_rebuilt_from_the_study():
    from nas.study_config import strategy_from_config

    stored = {
        "strategy": "coordinate",
        "target_macs": TARGET,
        "seed": 0,
        "tie_rule": "reseed",
        "tie_sigmas": 1.0,
        "tie_max_runs": 3,
    }
    assert strategy_from_config(SPACE, stored).seed_spread == 0.0  # a study from before: as it always decided
    assert strategy_from_config(SPACE, {**stored, "seed_spread": 0.04}).seed_spread == 0.04
