"""``python -m benchmarks.bench_predictor --quick`` on a table with a known ranking and a known seed agreement."""

from __future__ import annotations

import pytest

from benchmarks import bench_predictor
from tests.estimators.test_lookup_predictor import table  # noqa: F401  (the fixture: a 40-point table, truth known)


def test_quick_run_scores_regressors_and_the_noise_ceiling(table, capsys):  # noqa: F811
    figures = bench_predictor.main(["--quick", "--table", str(table.path)])
    assert [(r["features"], r["regressor"]) for r in figures["rows"]] == [
        ("encoding+macs", "random_forest"),
        ("encoding+macs", "gradient_boosting"),
    ]
    assert all(r["kendall_tau"] > 0.2 and r["repeats"] == 1 for r in figures["rows"])
    assert figures["best"] in figures["rows"]
    ceiling = figures["seed_agreement"]
    assert ceiling["points"] >= 3 and -1 <= ceiling["kendall_tau"] <= 1
    assert "two training seeds agree" in capsys.readouterr().out


def test_the_results_page_states_the_ceiling():
    figures = {
        "command": "c",
        "date": "d",
        "machine": {},
        "table": "t.h5",
        "table_points": 40,
        "data": "synth",
        "rows": [
            {
                "features": "analytic",
                "regressor": "ridge",
                "kendall_tau": 0.5,
                "kendall_tau_sem": 0.05,
                "spearman_rho": 0.6,
                "folds": 5,
                "repeats": 3,
            }
        ],
        "seed_agreement": {"points": 40, "kendall_tau": 0.2},
    }
    page = bench_predictor.markdown(figures)
    assert "| analytic | ridge | 0.500 ± 0.050 | 0.600 |" in page and "tau **0.200**" in page
    assert pytest.approx(0.2) == figures["seed_agreement"]["kendall_tau"]


def test_a_missing_table_is_one_line(tmp_path):
    with pytest.raises(SystemExit, match="bench_predictor: benchmark file .* does not exist"):
        bench_predictor.main(["--quick", "--table", str(tmp_path / "none.h5")])
