"""The synthetic-axes benchmark's page and its two budgets (equal time, equal epochs)."""

from __future__ import annotations

import pytest

from benchmarks import bench_synth_axes

ROW = {
    "group": "ablation",
    "setting": "single frame",
    "top1": 0.405,
    "epochs": 6.0,
    "per_class_top1": {
        "walk": 0.5,
        "run": 0.3,
        "vibrate": 0.4,
        "wander": 0.2,
        "blink": 0.1,
        "stay": 0.3,
        "textured": 0.6,
        "plain": 0.2,
        "xor_a": 0.7,
        "xor_b": 0.5,
    },
}


def _figures(**budget) -> dict:
    return {
        "command": "c",
        "date": "d",
        "machine": {},
        "data": "synth-x",
        "chance": 1 / 12,
        "rows": [ROW],
        "single_frame_over_chance": 4.86,
        "shuffled_minus_ordered": -0.048,
        "axis_spread": {"resolution": 0.054},
        "seconds_per_setting": None,
        "epochs_per_setting": None,
        **budget,
    }


def test_the_page_names_the_budget_each_setting_had():
    by_time = bench_synth_axes.markdown(_figures(seconds_per_setting=45.0))
    by_epochs = bench_synth_axes.markdown(_figures(epochs_per_setting=6.0))
    assert "45 s of training per setting" in by_time and "| epochs in 45 s |" in by_time
    assert "6 epochs of training per setting" in by_epochs and "| epochs |" in by_epochs
    assert "| ablation | single frame | **40.5 %** | 6.0 | 0.40 | 0.30 | 0.20 | 0.40 | 0.60 |" in by_epochs
    assert "**4.9× chance**" in by_epochs and "resolution 5.4" in by_epochs


def test_one_budget_at_a_time():
    with pytest.raises(SystemExit, match="not both"):
        bench_synth_axes.main(["--seconds", "10", "--epochs", "2"])
