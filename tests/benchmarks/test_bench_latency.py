"""bench_latency runs end to end and ends with its JSON line (a smoke test; timings and errors are not asserted)."""

from __future__ import annotations

import json

from benchmarks import bench_latency


def test_tiny_run_prints_figures_and_a_json_line(capsys, tmp_path):
    assert bench_latency.main(["--quick", "--json", "--points", "2", "--table", str(tmp_path / "t.json")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    assert figures["points"] == 2 and len(figures["rows"]) == 2 and "paths" not in figures
    assert all(r["predicted_ms"] > 0 and r["measured_ms"] > 0 for r in figures["rows"])
    assert figures["table_layers"] > 0 and (tmp_path / "t.json").is_file()
    assert "median absolute error" in "\n".join(lines) and "slower per multiply-add" in "\n".join(lines)
