"""Analytic complexity vs counting a built model, on the same X3D points in one run.

Prints points per second for each path and their ratio, whether the two agree
on every point, and the time to compute the complexity of every point of the
discretised X3D space (all ladder combinations).  Target: the analytic path
at least 1000x faster than measuring a built model.

    python -m benchmarks.bench_complexity [--quick] [--json]
"""

from __future__ import annotations

import itertools
import random
import sys
from collections.abc import Sequence

from estimators import AnalyticComplexity, MeasuredComplexity
from spaces import get_space

from .harness import emit_json, machine, parse_args, timed

TARGET_SPEEDUP = 1000


def _progress(items, description: str):
    from tqdm import tqdm

    return tqdm(items, desc=description, unit="point", file=sys.stderr, leave=False, disable=None, mininterval=0.5)


def run(quick: bool, seed: int, points: int | None = None, grid_limit: int | None = None) -> dict:
    """Time both paths on the same points; ``grid_limit`` caps the discretised-space sweep."""
    space = get_space("x3d")
    rng = random.Random(seed)
    measured_points = [space.sample(rng) for _ in range(points or (12 if quick else 60))]
    analytic, measured = AnalyticComplexity(), MeasuredComplexity()
    repeats = 20 if quick else 100

    analytic_results, analytic_seconds = timed(
        lambda: [analytic.evaluate(space, p) for _ in range(repeats) for p in measured_points]
    )
    measured_results, measured_seconds = timed(
        lambda: [measured.evaluate(space, p) for p in _progress(measured_points, "building and counting")]
    )
    disagreements = [
        m.point.key
        for a, m in zip(analytic_results, measured_results)
        if any(a.metrics[k] != m.metrics[k] for k in m.metrics) or m.info["uncounted_ops"]
    ]
    grid = list(itertools.islice(space.grid(), grid_limit))
    _, grid_seconds = timed(lambda: [space.complexity(p) for p in _progress(grid, "discretised space")])

    analytic_rate = len(analytic_results) / analytic_seconds
    measured_rate = len(measured_results) / measured_seconds
    return {
        "benchmark": "complexity",
        "space": "x3d",
        "quick": quick,
        "points_measured": len(measured_points),
        "analytic_points_per_s": round(analytic_rate, 1),
        "measured_points_per_s": round(measured_rate, 3),
        "speedup_analytic_vs_measured": round(analytic_rate / measured_rate, 1),
        "target_speedup": TARGET_SPEEDUP,
        "disagreements": len(disagreements),
        "grid_points": len(grid),
        "grid_size": space.grid_size(),
        "grid_seconds": round(grid_seconds, 3),
        "grid_points_per_s": round(len(grid) / grid_seconds, 1),
        "machine": machine(),
    }


def _options(parser) -> None:
    parser.add_argument(
        "--points", type=int, default=None, help="points timed on both paths (default 12 quick, 60 full)"
    )
    parser.add_argument(
        "--grid-limit", type=int, default=None, help="time only the first N points of the discretised space"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv, extra=_options)
    figures = run(args.quick, args.seed, args.points, args.grid_limit)
    print(f"X3D complexity, {figures['points_measured']} random ladder points (same points for both paths)")
    print(f"  analytic (no model built)      {figures['analytic_points_per_s']:>12,.1f} points/s")
    print(f"  measured (build on meta, count){figures['measured_points_per_s']:>12,.3f} points/s")
    print(
        f"  ratio analytic / measured      {figures['speedup_analytic_vs_measured']:>12,.1f}x"
        f"  (target >= {TARGET_SPEEDUP}x)"
    )
    print(f"  disagreements                  {figures['disagreements']:>12d}")
    print(
        f"discretised X3D space{' (limited)' if figures['grid_points'] < figures['grid_size'] else ''}: "
        f"{figures['grid_points']:,} points in {figures['grid_seconds']:.2f} s "
        f"({figures['grid_points_per_s']:,.0f} points/s, analytic)"
    )
    if args.json:
        emit_json(figures)
    return 0 if figures["disagreements"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
