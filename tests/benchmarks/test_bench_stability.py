"""bench_stability's figures from search summaries, and bench_fidelity's sampling and rank correlations."""

from __future__ import annotations

import math

import pytest

from benchmarks import bench_fidelity, bench_stability
from spaces import get_space


def _summary(*axes: str, tie_at: int | None = None) -> dict:
    path = [{"step": 0, "operation": None, "role": "base", "point": "b", "accuracy": 0.3}]
    for step, axis in enumerate(axes, start=1):
        decision = {
            "margin": 0.01,
            "noise": 0.02,
            "tie": step == tie_at,
            "tied": [axis, "x"] if step == tie_at else [],
            "rule": "reseed",
            "outcome": "cheaper of tied" if step == tie_at else "separated",
        }
        role = "overshoot" if step == len(axes) else "expansion"
        path.append(
            {"step": step, "operation": axis, "role": role, "point": f"p{step}", "accuracy": 0.4, "decision": decision}
        )
    path.append({"step": len(axes), "operation": axes[-1], "role": "contraction", "point": "c", "accuracy": 0.4})
    return {"path": path}


def test_the_path_is_the_axis_of_every_decided_step_and_ties_are_counted():
    summary = _summary("fast", "fast", "temporal", tie_at=2)
    assert bench_stability.path_of(summary) == ["fast", "fast", "temporal"]
    notes = bench_stability.step_notes(summary)
    assert [n["tie"] for n in notes] == [False, True, False] and notes[1]["outcome"] == "cheaper of tied"


@pytest.mark.parametrize(
    "paths, share",
    [
        ([["a", "b"], ["a", "b"], ["a", "b"]], 1.0),
        ([["a", "b"], ["a", "c"], ["a", "b"]], 2 / 3),
        ([["a"], ["b"], ["c"]], 1 / 3),
        ([], 0.0),
    ],
)
def test_same_path_is_the_share_of_seeds_on_the_most_common_path(paths, share):
    assert bench_stability.same_path_share(paths) == pytest.approx(share)


def test_the_search_command_is_the_main_job_without_its_final_training():
    command = bench_stability.search_command(
        2, "sqlite:///x.db", quick=False, time_limit="1h", extra="--tie-rule cheaper"
    )
    assert command[1:5] == ["-m", "nas", "search", "--space"]
    assert ["--final-epochs", "0"] == command[command.index("--final-epochs") :][:2]
    assert command[command.index("--seed") + 1] == "2" and command[-2:] == ["--tie-rule", "cheaper"]
    assert "--data" not in command and "--time-limit" in command


def test_fidelity_samples_distinct_servable_points_within_the_target():
    space = get_space("x3d", base_crop=48, base_stride=8, stage_blocks=[1, 1, 2, 1], head_width=256, num_classes=12)
    target = 12_500_000
    points = bench_fidelity.sample_points(space, target, 30, seed=0, serves=lambda p: p["frames"] <= 16)
    assert len(points) == 30 == len(set(points))
    assert all(space.complexity(p).macs <= target and p["frames"] <= 16 for p in points)
    assert points == bench_fidelity.sample_points(space, target, 30, seed=0, serves=lambda p: p["frames"] <= 16)


def test_rank_correlations_against_hand_computed_values():
    same = bench_fidelity.rank_correlations([0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8])
    assert same == {"kendall_tau": pytest.approx(1.0), "spearman_rho": pytest.approx(1.0)}
    one_swap = bench_fidelity.rank_correlations([0.1, 0.2, 0.3, 0.4], [0.5, 0.7, 0.6, 0.8])
    assert one_swap["kendall_tau"] == pytest.approx(4 / 6) and one_swap["spearman_rho"] == pytest.approx(0.8)
    assert math.isnan(bench_fidelity.rank_correlations([0.1, 0.2], [0.3, 0.4])["kendall_tau"])
