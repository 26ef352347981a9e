"""bench_complexity runs end to end and ends with its JSON line (a smoke test; timings are not asserted)."""

from __future__ import annotations

import json

from benchmarks import bench_complexity


def test_tiny_run_prints_figures_and_a_json_line(capsys):
    assert bench_complexity.main(["--quick", "--json", "--points", "2", "--grid-limit", "50"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    assert figures["disagreements"] == 0 and figures["points_measured"] == 2
    from spaces import get_space

    assert figures["grid_points"] == 50 and figures["grid_size"] == get_space("x3d").grid_size()
    assert figures["analytic_points_per_s"] > 0 and figures["measured_points_per_s"] > 0
    assert "ratio analytic / measured" in "\n".join(lines) and "(limited)" in "\n".join(lines)
