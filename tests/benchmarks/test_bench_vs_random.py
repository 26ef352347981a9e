"""bench_vs_random's figures: mean and SEM per strategy, Welch's test, and the command of each run."""

from __future__ import annotations

import math

import pytest

from benchmarks import bench_vs_random


def _run(strategy: str, seed: int, final: float | None) -> dict:
    return {"strategy": strategy, "seed": seed, "final_accuracy": final, "gmacs": 0.012, "stopped": "finished"}


def test_mean_and_standard_error_of_the_mean_against_hand_computed_values():
    stats = bench_vs_random.mean_sem([0.8, 0.9, 1.0])
    assert stats["n"] == 3 and stats["mean"] == pytest.approx(0.9) and stats["sem"] == pytest.approx(0.1 / math.sqrt(3))
    assert bench_vs_random.mean_sem([0.5])["sem"] is None and bench_vs_random.mean_sem([])["mean"] is None


def test_summary_per_strategy_and_welch_p_between_the_first_two():
    runs = [
        _run("coordinate", 0, 0.86),
        _run("coordinate", 1, 0.84),
        _run("coordinate", 2, 0.85),
        _run("random", 0, 0.75),
        _run("random", 1, 0.70),
        _run("random", 2, None),
    ]
    summary = bench_vs_random.summarise(runs, ["coordinate", "random"])
    assert summary["coordinate"]["n"] == 3 and summary["random"]["n"] == 2
    assert summary["welch_p"] == pytest.approx(0.111, abs=0.002)  # t = 4.87 on 1.11 degrees of freedom (by hand)
    assert bench_vs_random.welch_p([0.8], [0.7, 0.6]) is None  # one run: no spread to test with


def test_every_run_is_the_main_job_with_its_strategy_and_seed():
    command = bench_vs_random.search_command("random", 2, "sqlite:///x.db", quick=False, time_limit=90.5)
    assert command[1:] == [
        "-m",
        "nas",
        "search",
        "--space",
        "x3d",
        "--strategy",
        "random",
        "--seed",
        "2",
        "--storage",
        "sqlite:///x.db",
        "--json",
        "--time-limit",
        "90",
    ]


def test_random_gets_as_many_trainings_as_coordinate_trained_under_the_same_seed():
    runs = [{**_run("coordinate", 0, 0.86), "trained": 31}]
    assert bench_vs_random.equal_budget(runs, "random", 0, "coordinate") == 31
    assert bench_vs_random.equal_budget(runs, "random", 1, "coordinate") == 0  # coordinate seed 1 not done yet
    assert bench_vs_random.equal_budget(runs, "coordinate", 0, "coordinate") is None
    command = bench_vs_random.search_command("random", 0, "sqlite:///x.db", quick=False, time_limit=None, budget=31)
    assert command[-2:] == ["--budget", "31"]
