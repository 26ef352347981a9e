"""Predicted latency (per-layer table) vs measuring the whole network, on held-out X3D points at the proxy setting.

Prints, per held-out point, the table's prediction beside a direct measurement
of the built network (median of repeats after warm-up, batch 1, one thread),
the median absolute relative error (target: within 15 %), the time the lookup
takes against measuring, the rank correlations of MACs and of the prediction
with measured latency, the speed per multiply-add of a depthwise 3D conv
against a dense one of equal MACs, and (full run) the coordinate search's path
replayed over the tabular benchmark with FLOPs and with latency as the cost.

The table is built from scratch in a temporary folder (``--table FILE`` keeps
one), so the figures include the one-off cost of filling it.

    python -m benchmarks.bench_latency [--quick] [--json]
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from estimators.latency import LatencySettings, measure_model, time_call
from estimators.latency_table import (
    LatencyTable,
    LayerLatencyPredictor,
    calibration_points,
)
from nas.tables import OLD_DEFAULT_TABLE_NAME, installed_table
from spaces import Point, SearchSpace, get_space

from .harness import emit_json, machine, parse_args, timed

TARGET_ERROR = 0.15
TABLE = installed_table(OLD_DEFAULT_TABLE_NAME)  # the table its committed figures were measured on


def proxy_space() -> SearchSpace:
    """The space ``nas search`` and the tabular benchmark use: X3D at the CPU proxy setting, 12 classes."""
    space = get_space("x3d")
    return get_space("x3d", **space.proxy_defaults["space"], num_classes=12)


def held_out(space: SearchSpace, count: int, seed: int, max_macs: int) -> list[Point]:
    """Seeded ladder points up to ``max_macs``, none of them a calibration point, then the proxy-scaled presets."""
    rng, excluded = random.Random(seed), set(calibration_points(space))
    points: list[Point] = [
        p for p in space.presets.values() if p not in excluded and space.complexity(p).macs <= max_macs
    ]
    while len(points) < count:
        point = space.sample(rng)
        if point not in excluded and point not in points and space.complexity(point).macs <= max_macs:
            points.append(point)
    return points[:count]


def compare_point(
    space: SearchSpace, predictor: LayerLatencyPredictor, point: Point, settings: LatencySettings
) -> dict[str, Any]:
    """One point: prediction (first, possibly timing new layers; then warm), direct measurement, and their timings."""
    first, first_seconds = timed(lambda: predictor.predict_ms(space, point))
    predicted, warm_seconds = timed(lambda: predictor.predict_ms(space, point))
    measured, measure_seconds = timed(lambda: measure_model(space.build(point), space.input_shape(point), settings))
    return {
        "point": point.key,
        "macs": space.complexity(point).macs,
        "predicted_ms": predicted,
        "measured_ms": measured,
        "error": abs(predicted - measured) / measured,
        "first_predict_s": first_seconds,
        "predict_s": warm_seconds,
        "measure_s": measure_seconds,
    }


def depthwise_vs_dense(settings: LatencySettings) -> dict[str, float]:
    """ms per GMAC of a 3x3x3 depthwise conv (216 channels) and a dense 1x1x1 conv (72 -> 81)
    of equal MACs, 8 x 24^2."""
    import torch
    from torch import nn

    shape = (8, 24, 24)
    positions = shape[0] * shape[1] * shape[2]
    layers = {
        "depthwise": (nn.Conv3d(216, 216, 3, padding=1, groups=216, bias=False), 216),
        "dense": (nn.Conv3d(72, 81, 1, bias=False), 72),
    }
    figures = {}
    for name, (conv, channels) in layers.items():
        macs = conv.weight.numel() * positions
        inputs = torch.randn(1, channels, *shape)
        figures[f"{name}_ms_per_gmac"] = time_call(lambda: conv.eval()(inputs), settings) / (macs / 1e9)
        figures[f"{name}_macs"] = macs
    figures["depthwise_slowdown"] = figures["depthwise_ms_per_gmac"] / figures["dense_ms_per_gmac"]
    return figures


def rank_correlations(xs: Sequence[float], ys: Sequence[float]) -> dict[str, float]:
    from scipy.stats import kendalltau, spearmanr

    return {"kendall_tau": float(kendalltau(xs, ys).statistic), "spearman_rho": float(spearmanr(xs, ys).statistic)}


def coordinate_paths(space: SearchSpace, predictor: LayerLatencyPredictor) -> dict[str, Any]:
    """The coordinate search replayed over the tabular benchmark with each cost and selection rule.

    The latency target is the predicted latency of the FLOPs search's chosen
    model, so both searches may end at the same place and any difference is
    the cost's doing.
    """
    from estimators.lookup import TableLookup
    from estimators.predictor import AccuracyPredictor, table_targets
    from estimators.tabular import Table
    from nas.comparison import run_strategy
    from nas.costs import MICROSECONDS_PER_MS
    from nas.strategies.coordinate import CoordinateExpansion

    table = Table(TABLE)
    target = int(table.meta["target_macs"])
    lookup = TableLookup(table, bench_seed=0, predictor=AccuracyPredictor(space).fit(*table_targets(table, space)))

    def latency(point: Point) -> int:
        return round(predictor.predict_ms(space, point) * MICROSECONDS_PER_MS)

    paths: dict[str, Any] = {}
    for selection in ("accuracy", "gain_per_compute"):
        flops_run = run_strategy(space, "coordinate", 0, lookup, target=target, budget=100, selection=selection)
        flops = CoordinateExpansion(space, target=target, selection=selection)
        chosen = flops.chosen(flops_run.history)
        target_us = latency(chosen)
        latency_run = run_strategy(
            space, "coordinate", 0, lookup, target=target_us, budget=100, cost=latency, selection=selection
        )
        timed_strategy = CoordinateExpansion(space, target=target_us, cost=latency, selection=selection)
        for label, strategy, run in (("flops", flops, flops_run), ("latency", timed_strategy, latency_run)):
            steps = strategy.expansion_path(run.history)
            paths[f"{label}/{selection}"] = {
                "target": f"{target / 1e9:g} GMACs" if label == "flops" else f"{target_us / 1000:.3f} ms",
                "steps": [
                    {
                        "step": s.step,
                        "axis": s.operation or "-",
                        "role": s.role,
                        "point": s.point.key,
                        "gmacs": space.complexity(s.point).macs / 1e9,
                        "ms": latency(s.point) / 1000,
                    }
                    for s in steps
                ],
                "trained": len(run.points),
            }
    return paths


def run(
    quick: bool, seed: int, points: int | None = None, table_path: str | None = None, paths: bool | None = None
) -> dict:
    space = proxy_space()
    settings = LatencySettings(batch=1)
    folder = tempfile.TemporaryDirectory(prefix="bench-latency-")
    table = LatencyTable(settings, path=table_path or Path(folder.name) / "table.json")
    predictor = LayerLatencyPredictor(settings, table=table)
    _, calibrate_seconds = timed(lambda: predictor.calibration(space))
    max_macs = 2 * int(space.proxy_defaults["target_gflops"] * 1e9)
    rows = [
        compare_point(space, predictor, p, settings)
        for p in _progress(held_out(space, points or (6 if quick else 24), seed, max_macs))
    ]
    errors = [r["error"] for r in rows]
    measure_total, predict_total = sum(r["measure_s"] for r in rows), sum(r["predict_s"] for r in rows)
    figures = {
        "benchmark": "latency",
        "space": "x3d (proxy setting)",
        "quick": quick,
        "points": len(rows),
        "rows": rows,
        "median_error": statistics.median(errors),
        "max_error": max(errors),
        "target_error": TARGET_ERROR,
        "calibration": predictor.calibration(space),
        "calibrate_seconds": calibrate_seconds,
        "table_layers": len(table.layers),
        "first_predict_seconds": sum(r["first_predict_s"] for r in rows),
        "predict_seconds": predict_total,
        "measure_seconds": measure_total,
        "speedup_lookup_vs_measure": measure_total / predict_total,
        "macs_vs_measured": rank_correlations([r["macs"] for r in rows], [r["measured_ms"] for r in rows]),
        "predicted_vs_measured": rank_correlations([r["predicted_ms"] for r in rows], [r["measured_ms"] for r in rows]),
        **depthwise_vs_dense(settings),
        "machine": machine(),
        "load_average": _load(),
    }
    if paths if paths is not None else not quick:
        figures["paths"] = coordinate_paths(space, predictor)
    folder.cleanup()
    return figures


def _load() -> list[float]:
    import os

    return [round(v, 2) for v in os.getloadavg()]


def _progress(items, description: str = "held-out points"):
    from tqdm import tqdm

    return tqdm(items, desc=description, unit="point", file=sys.stderr, leave=False, disable=None, mininterval=0.5)


def _options(parser) -> None:
    parser.add_argument("--points", type=int, default=None, help="held-out points (default 6 quick, 24 full)")
    parser.add_argument(
        "--table", default=None, metavar="FILE", help="keep the latency table in FILE (default: a temporary one)"
    )
    parser.add_argument(
        "--paths", action="store_true", default=None, help="replay the coordinate paths even with --quick"
    )


def _print(figures: dict[str, Any]) -> None:
    print(
        f"latency at batch 1, 1 thread: per-layer table vs measuring the whole network, {figures['points']} held-out "
        f"points of x3d at the proxy setting (load average {figures['load_average']})"
    )
    print(f"  {'point':64s} {'GMACs':>7s} {'predicted':>10s} {'measured':>9s} {'error':>6s}")
    for r in figures["rows"]:
        print(
            f"  {r['point']:64s} {r['macs'] / 1e9:7.4f} {r['predicted_ms']:8.3f}ms "
            f"{r['measured_ms']:7.3f}ms {r['error']:6.1%}"
        )
    print(
        f"  median absolute error {figures['median_error']:.1%} "
        f"(max {figures['max_error']:.1%}; target <= {TARGET_ERROR:.0%})"
    )
    print(
        f"  calibration: {figures['calibration']['scale']:.3f} x sum {figures['calibration']['offset']:+.3f} ms "
        f"({figures['calibrate_seconds']:.1f} s, table of {figures['table_layers']} layers)"
    )
    print(
        f"  time: lookup {figures['predict_seconds']:.2f} s "
        f"(first lookups, timing new layers: {figures['first_predict_seconds']:.1f} s) "
        f"vs measuring {figures['measure_seconds']:.2f} s: {figures['speedup_lookup_vs_measure']:.1f}x"
    )
    for name in ("macs_vs_measured", "predicted_vs_measured"):
        c = figures[name]
        print(
            f"  rank correlation {name.replace('_', ' ')}: Kendall tau {c['kendall_tau']:.3f}, "
            f"Spearman rho {c['spearman_rho']:.3f}"
        )
    print(
        f"  depthwise 3x3x3 conv {figures['depthwise_ms_per_gmac']:.1f} ms/GMAC vs dense 1x1x1 "
        f"{figures['dense_ms_per_gmac']:.1f} ms/GMAC: {figures['depthwise_slowdown']:.1f}x slower per multiply-add"
    )
    for name, path in figures.get("paths", {}).items():
        print(f"  coordinate path, cost {name} (target {path['target']}, {path['trained']} trained):")
        for s in path["steps"]:
            print(
                f"    {s['step']} {s['axis']:10s} {s['role']:11s} {s['point']:64s} "
                f"{s['gmacs']:.4f} GMACs {s['ms']:.3f} ms"
            )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv, extra=_options)
    started = time.perf_counter()
    figures = run(args.quick, args.seed, args.points, args.table, args.paths)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    _print(figures)
    if args.json:
        emit_json(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
