"""``nas bench compare`` on a tiny real table: reproducible CSV, every strategy run on equal budgets, hand-checked summary."""

from __future__ import annotations

import csv
import io

import pytest

from nas.cli import main
from nas.compare import Run, summarise
from spaces import get_space
from tests.nas.test_tabular_build import OPTIONS

SPACE = get_space("x3d")


@pytest.fixture(scope="module")
def tiny_table(tiny_cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp") / "table.h5"
    assert main(["bench", "build", "--out", str(out), "--points", "12", "--seeds", "0,1", "--data", str(tiny_cache), *OPTIONS]) == 0
    return out


def test_compare_writes_the_same_csv_twice_and_plots(tiny_table, tmp_path, capsys):
    args = ["bench", "compare", "--table", str(tiny_table), "--seeds", "3", "--budget", "6",
            "--strategies", "coordinate,random,tpe,nni-evolution"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    first = (tmp_path / "a" / "compare.csv").read_text()
    assert first == (tmp_path / "b" / "compare.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(first)))
    assert [r["strategy"] for r in rows] == ["coordinate", "random", "tpe", "nni-evolution"]
    assert all(r["seeds"] == "3" and float(r["models_trained"]) <= 6 for r in rows)
    assert "Kendall tau" in (tmp_path / "a" / "compare.md").read_text()
    for png in ("anytime.png", "pareto.png"):
        assert (tmp_path / "a" / png).read_bytes()[:4] == b"\x89PNG"
    assert "Wilcoxon p vs random" in capsys.readouterr().out


def test_compare_refuses_an_unknown_strategy_or_a_missing_table(tiny_table, tmp_path, capsys):
    assert main(["bench", "compare", "--table", str(tiny_table), "--strategies", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown strategy 'nope'" in capsys.readouterr().err
    assert main(["bench", "compare", "--table", str(tmp_path / "none.h5"), "--out", str(tmp_path)]) == 2
    assert "no benchmark file" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def _run(strategy: str, seed: int, accuracies, macs=None) -> Run:
    run = Run(strategy, seed)
    for index, accuracy in enumerate(accuracies):
        run.add(SPACE.base, accuracy, (macs or [10] * len(accuracies))[index], 3600.0)
    return run


def test_summary_by_hand():
    runs = [_run("a", s, [0.1, 0.3 + 0.01 * s, 0.2]) for s in range(6)]
    runs += [_run("random", s, [0.1, 0.2, 0.25], macs=[10, 10, 99]) for s in range(6)]  # its 3rd model is over the target
    rows = {r["strategy"]: r for r in summarise(runs, target_macs=50, optimum=lambda seed: 0.355, budgets=[1, 3],
                                                epsilon=0.02, reference=(50 / 1e9, 0.0))}
    a, baseline = rows["a"], rows["random"]
    assert a["best@1"] == pytest.approx(0.1) and a["best@1_sem"] == pytest.approx(0.0, abs=1e-12)
    assert a["best@3"] == pytest.approx(0.325)  # mean of 0.30 .. 0.35
    assert baseline["best@3"] == pytest.approx(0.2)  # the 0.25 model is over the target: not counted
    assert a["reached"] == 2 and a["models_to_eps"] == 2.0 and a["hours_to_eps"] == pytest.approx(2.0)  # seeds 4, 5 reach 0.335
    assert baseline["reached"] == 0
    # one model at 1e-8 GMACs: the front (1e-8, best) against the reference (5e-8, 0)
    assert a["hypervolume"] == pytest.approx(sum((50 - 10) / 1e9 * (0.3 + 0.01 * s) for s in range(6)) / 6)
    assert a["wilcoxon_p_vs_random"] == pytest.approx(2 / 64) and baseline["wilcoxon_p_vs_random"] is None
