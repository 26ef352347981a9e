"""``nas bench compare`` on a tiny real table: reproducible CSV, every strategy run on equal budgets,
hand-checked summary."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from estimators.proxy import CandidateFailed
from estimators.tabular import Table
from nas.cli import main
from nas.comparison import Run, summarise
from nas.costs import MICROSECONDS_PER_MS, LatencyCost
from spaces import get_space
from tests.nas.test_tabular_build import OPTIONS

SPACE = get_space("x3d")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_table(tiny_cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp") / "table.h5"
    assert (
        main(
            [
                "bench",
                "build",
                "--out",
                str(out),
                "--points",
                "12",
                "--seeds",
                "0,1",
                "--data",
                str(tiny_cache),
                *OPTIONS,
            ]
        )
        == 0
    )
    return out


def test_compare_writes_the_same_csv_twice_and_plots(tiny_table, tmp_path, capsys):
    args = [
        "bench",
        "compare",
        "--table",
        str(tiny_table),
        "--seeds",
        "3",
        "--budget",
        "6",
        "--strategies",
        "coordinate,random,tpe,nni-evolution,asha,bohb",
    ]  # pruning replayed: 2-epoch curves
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    for hash_seed in ("987",):  # a fresh process with other string hashing: set and dict orders must not leak in
        fresh = subprocess.run(
            [sys.executable, "-m", "nas", *args, "--out", str(tmp_path / hash_seed)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed, "OMP_NUM_THREADS": "1"},
            cwd=ROOT,
            timeout=300,
        )
        assert fresh.returncode == 0, fresh.stderr[-2000:]
    first = (tmp_path / "a" / "compare.csv").read_bytes()
    assert first == (tmp_path / "987" / "compare.csv").read_bytes()
    first = first.decode()
    rows = list(csv.DictReader(io.StringIO(first)))
    assert [r["strategy"] for r in rows] == ["coordinate", "random", "tpe", "nni-evolution", "asha", "bohb"]
    assert all(r["seeds"] == "3" and float(r["models_trained"]) <= 6 for r in rows)
    assert "Kendall tau" in (tmp_path / "a" / "compare.md").read_text()
    for png in ("anytime.png", "anytime_seconds.png", "pareto.png"):
        assert (tmp_path / "a" / png).read_bytes()[:4] == b"\x89PNG"
    printed = capsys.readouterr().out
    assert "Wilcoxon p vs random" in printed and "p vs random (Holm)" in printed and "seconds to within eps" in printed
    verdict = json.loads((tmp_path / "a" / "compare.json").read_text())
    assert set(verdict["strategies"]) == {r["strategy"] for r in rows}
    for name, figures in verdict["strategies"].items():
        assert {
            "from_table_fraction",
            "final_best_mean",
            "final_best_sem",
            "p_holm_vs_random",
            "seconds_to_epsilon",
        } <= set(figures)
        assert figures["final_best_mean"] == pytest.approx(
            float(next(r for r in rows if r["strategy"] == name)["best@6"]), abs=1e-6
        )  # the CSV rounds to 6 digits
    assert verdict["strategies"]["random"]["p_holm_vs_random"] is None
    assert "## Verdict" in (tmp_path / "a" / "compare.md").read_text()


def test_compare_refuses_an_unknown_strategy_or_a_missing_table(tiny_table, tmp_path, capsys):
    assert main(["bench", "compare", "--table", str(tiny_table), "--strategies", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown strategy 'nope'" in capsys.readouterr().err
    assert main(["bench", "compare", "--table", str(tmp_path / "none.h5"), "--out", str(tmp_path)]) == 2
    assert "does not exist; build one with" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def _run(strategy: str, seed: int, accuracies, macs=None) -> Run:
    run = Run(strategy, seed)
    for index, accuracy in enumerate(accuracies):
        run.add(SPACE.base, accuracy, (macs or [10] * len(accuracies))[index], 3600.0)
    return run


def test_summary_by_hand():
    runs = [_run("a", s, [0.1, 0.3 + 0.01 * s, 0.2]) for s in range(6)]
    runs += [
        _run("random", s, [0.1, 0.2, 0.25], macs=[10, 10, 99]) for s in range(6)
    ]  # its 3rd model is over the target
    rows = {
        r["strategy"]: r
        for r in summarise(
            runs, target=50, optimum=lambda seed: 0.355, budgets=[1, 3], epsilon=0.02, reference=(50 / 1e9, 0.0)
        )
    }
    a, baseline = rows["a"], rows["random"]
    assert a["best@1"] == pytest.approx(0.1) and a["best@1_sem"] == pytest.approx(0.0, abs=1e-12)
    assert a["best@3"] == pytest.approx(0.325)  # mean of 0.30 .. 0.35
    assert baseline["best@3"] == pytest.approx(0.2)  # the 0.25 model is over the target: not counted
    assert (
        a["reached"] == 2 and a["models_to_eps"] == 2.0 and a["hours_to_eps"] == pytest.approx(2.0)
    )  # seeds 4, 5 reach 0.335
    assert baseline["reached"] == 0
    # one model at 1e-8 GMACs: the front (1e-8, best) against the reference (5e-8, 0)
    assert a["hypervolume"] == pytest.approx(sum((50 - 10) / 1e9 * (0.3 + 0.01 * s) for s in range(6)) / 6)
    assert a["wilcoxon_p_vs_random"] == pytest.approx(2 / 64) and baseline["wilcoxon_p_vs_random"] is None
    # one comparison against random: Holm leaves its p as it is; a wins every seed, so it ranks first everywhere
    assert a["p_holm_vs_random"] == pytest.approx(2 / 64) and a["beats_random"] and not baseline["beats_random"]
    assert a["rank_mean"] == 1.0 and baseline["rank_mean"] == 2.0


def test_holm_multiplies_by_the_comparisons_left_and_keeps_the_order():
    runs = [
        _run(name, s, [0.1, value + 0.001 * s])
        for s in range(6)
        for name, value in (("a", 0.4), ("b", 0.3), ("random", 0.2))
    ]
    rows = {
        r["strategy"]: r
        for r in summarise(
            runs, target=50, optimum=lambda seed: 0.5, budgets=[2], epsilon=0.02, reference=(50 / 1e9, 0.0)
        )
    }
    assert rows["a"]["wilcoxon_p_vs_random"] == pytest.approx(2 / 64)
    assert rows["a"]["p_holm_vs_random"] == pytest.approx(4 / 64) and rows["b"]["p_holm_vs_random"] == pytest.approx(
        4 / 64
    )
    assert not rows["a"]["beats_random"]  # 0.0625 after the correction: not below 0.05
    assert [rows[n]["rank_mean"] for n in ("a", "b", "random")] == [1.0, 2.0, 3.0]


def test_regret_against_simulated_seconds_counts_a_model_once_its_training_ended():
    from nas.bench_compare import regret_at

    run = _run("a", 0, [0.1, 0.3])  # two models of an hour each
    assert regret_at(run, 0.5, 50, [1800.0, 3600.0, 5400.0, 7200.0]) == pytest.approx(
        [float("nan"), 0.4, 0.4, 0.2], nan_ok=True
    )


def test_compare_under_a_latency_target(tiny_table, tmp_path, capsys, monkeypatch):
    """``--cost latency --target-ms``: the strategies search under predicted latency; the outputs say ms."""
    monkeypatch.setenv("NAS_CACHE_DIR", str(tmp_path / "cache"))
    meta = Table(tiny_table).meta
    space = get_space(meta["space"], **meta["space_settings"])
    target_ms = 3 * LatencyCost(space, {"threads": 1})(space.base) / MICROSECONDS_PER_MS
    out = tmp_path / "latency"
    # Coordinate only: a sampler draws points all over the space and each draw's latency is predicted (slow).
    assert (
        main(
            [
                "bench",
                "compare",
                "--table",
                str(tiny_table),
                "--seeds",
                "2",
                "--budget",
                "4",
                "--strategies",
                "coordinate",
                "--cost",
                "latency",
                "--target-ms",
                f"{target_ms:.4f}",
                "--out",
                str(out),
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["cost"] == "ms" and result["target"].endswith(" ms")
    assert [r["strategy"] for r in result["rows"]] == ["coordinate"] and result["rows"][0]["models_trained"] <= 4
    markdown = (out / "compare.md").read_text()
    assert "--cost latency --target-ms" in markdown and "ms x top-1" in markdown
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--target-ms", "3"], "--target-ms 3 needs --cost latency"),
        (["--cost", "latency"], "--cost latency needs a latency target"),
    ],
)
def test_compare_refuses_a_half_given_latency_target(tiny_table, tmp_path, capsys, flags, message):
    assert main(["bench", "compare", "--table", str(tiny_table), "--out", str(tmp_path / "out"), *flags]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1 and not (tmp_path / "out").exists()


def test_the_table_optimum_is_taken_within_the_cost_given(tiny_table):
    """Under a cost that lets one point fit, the best the table holds within the target is that point's accuracy."""
    from estimators.lookup import TableLookup
    from nas.bench_compare import _table_optimum

    table = Table(tiny_table)
    space = get_space(table.meta["space"], **table.meta["space_settings"])
    lookup = TableLookup(table, bench_seed=0)
    points = [space.point(dict(entry.values)) for entry in table.entries.values()]
    accuracies = {}
    for point in points:
        try:
            accuracies[point] = lookup.evaluate(space, point).metrics["accuracy"]
        except CandidateFailed:
            continue  # a point the data cannot serve, or a diverged run
    chosen = min(accuracies, key=accuracies.get)  # the worst trained point: the MACs optimum is above it
    only_chosen = lambda point: 1 if point == chosen else 10**9  # noqa: E731
    assert _table_optimum(table, space, lookup, 1, only_chosen) == accuracies[chosen]
    target = int(table.meta["target_macs"])  # the table also holds the coordinate search's overshoot, above it
    within = [accuracy for point, accuracy in accuracies.items() if table.entries[point.key].macs <= target]
    assert _table_optimum(table, space, lookup, target, None) == max(within)


def test_every_strategy_a_comparison_draws_has_a_line_of_its_own():
    from nas.plots import colour, line_style
    from nas.strategies.registry import COMPARED_BY_DEFAULT

    lines = [(colour("", index), line_style(index)) for index in range(len(COMPARED_BY_DEFAULT))]
    assert len(COMPARED_BY_DEFAULT) >= 12 and len(set(lines)) == len(lines), lines
