"""bench_inherit's figures: each way's command, search seconds, final top-1 and τ against long training."""

from __future__ import annotations

import math

import pytest

from benchmarks import bench_inherit


def _run(way: str, seed: int, final: float, seconds: float, candidates: dict[str, float], step: int = 1) -> dict:
    return {
        "way": way,
        "seed": seed,
        "stopped": "finished",
        "path": ["width", "temporal"],
        "chosen": "a=1",
        "final_accuracy": final,
        "search_seconds": seconds,
        "trial_seconds": seconds + 2,
        "wall_seconds": seconds + 5,
        "candidates": [{"point": key, "step": step, "accuracy": value} for key, value in candidates.items()],
    }


def test_the_inheriting_way_is_the_main_job_with_inherit_and_the_other_is_the_main_job():
    scratch = bench_inherit.search_command(
        "scratch", 1, "sqlite:///x.db", inherit_epochs=3, quick=False, time_limit=None
    )
    assert scratch[1:] == [
        "-m",
        "nas",
        "search",
        "--space",
        "x3d",
        "--strategy",
        "coordinate",
        "--seed",
        "1",
        "--storage",
        "sqlite:///x.db",
        "--json",
    ]
    inherit = bench_inherit.search_command(
        "inherit", 1, "sqlite:///x.db", inherit_epochs=3, quick=False, time_limit=90.5
    )
    assert inherit[len(scratch) :] == ["--inherit", "--inherit-epochs", "3", "--time-limit", "90"]


def test_each_way_gets_mean_and_sem_of_its_seeds_and_tau_over_its_own_candidates():
    runs = [
        _run("scratch", 0, 0.80, 100, {"a": 0.1, "b": 0.2, "c": 0.3}),
        _run("scratch", 1, 0.90, 120, {"a": 0.3, "b": 0.2, "c": 0.5}),
        _run("inherit", 0, 0.85, 50, {"a": 0.3, "b": 0.2, "d": 0.1}),
    ]
    long = {"a": 0.6, "b": 0.5, "c": 0.9, "d": 0.2}
    scratch = bench_inherit.way_figures(runs, long, "scratch")
    assert scratch["final_top1_mean"] == pytest.approx(0.85) and scratch["final_top1_sem"] == pytest.approx(0.05)
    assert scratch["search_seconds"] == pytest.approx(110) and scratch["search_seconds_per_seed"] == [100, 120]
    # means a 0.2, b 0.2, c 0.4 against 0.6, 0.5, 0.9: one tie in the proxy; tau-b by hand = 2 / sqrt(2 * 3)
    assert scratch["kendall_tau_vs_long"] == pytest.approx(2 / math.sqrt(6))
    # within step 1 of each seed: seed 0 (0.1, 0.2, 0.3) ranks as long, tau 1; seed 1 (0.3, 0.2, 0.5) too, tau 1/3
    assert scratch["kendall_tau_within_steps"] == pytest.approx((1 + 1 / 3) / 2) and scratch["steps_with_tau"] == 2
    inherit = bench_inherit.way_figures(runs, long, "inherit")
    assert inherit["final_top1_sem"] is None and inherit["candidates"] == 3 and inherit["candidates_with_long"] == 3
    assert inherit["kendall_tau_vs_long"] == pytest.approx(1.0)  # a 0.3 > b 0.2 > d 0.1, as long: 0.6 > 0.5 > 0.2


def test_long_training_goes_first_to_the_candidates_most_searches_met():
    runs = [_run("scratch", 0, 0.8, 1, {"b": 0.1, "c": 0.1}), _run("inherit", 0, 0.8, 1, {"c": 0.2, "a": 0.1})]
    assert bench_inherit.long_order(runs) == ["c", "a", "b"]


def test_the_ratio_and_difference_compare_inherit_with_scratch_over_seeds_both_ways_finished():
    class Args:
        quick = False

    figures = {
        "runs": [
            _run("scratch", 0, 0.80, 100, {"a": 0.1}),
            _run("inherit", 0, 0.84, 40, {"a": 0.2}),
            _run("scratch", 1, 0.50, 300, {}),
        ],
        "long": {"a": 0.5},
    }  # inherit seed 1 not finished
    summary = bench_inherit._figures(Args(), [], figures, 6.0)
    assert summary["paired_seeds"] == [0] and summary["ways"]["scratch"]["seeds"] == [0]
    assert summary["search_seconds_ratio"] == pytest.approx(0.4)
    assert summary["trial_seconds_ratio"] == pytest.approx(42 / 102)
    assert summary["final_top1_difference"] == pytest.approx(0.04)
    assert summary["shared_candidates"] == 1 and summary["kendall_tau_shared"]["inherit"] is None  # one pair: no tau
