"""bench_proxy runs end to end on a tiny cache and reports a ratio per setting (timings are not asserted)."""

from __future__ import annotations

import json

from benchmarks import bench_proxy


def test_tiny_run_prints_every_setting_and_a_json_line(tiny_cache, capsys, monkeypatch):
    monkeypatch.setattr(bench_proxy, "POINTS", ("frames=1,stride=8", "frames=2,stride=4"))  # tiny clips: 16 frames
    assert bench_proxy.main(["--quick", "--json", "--steps", "2", "--cache", str(tiny_cache)]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (row,) = figures["rows"]
    assert row["point"].startswith("frames=2,stride=4") and set(row["clips_per_s"]) == set(bench_proxy.SETTINGS)
    assert (
        all(rate > 0 for rate in row["clips_per_s"].values())
        and row["ratio_to_default"][next(iter(bench_proxy.SETTINGS))] == 1.0
    )
