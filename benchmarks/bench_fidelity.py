"""Does the proxy rank candidates as a longer training does?  Kendall's tau and Spearman's rho.

Samples points uniformly from the region of the x3d space within the default
compute target (that the default data can serve), trains each under the
default proxy schedule (the space's own epochs) and under a schedule
``--factor`` times longer, each from the same initial weights, and rank-
correlates the two sets of validation top-1s.  Every training is written to a
JSON file as soon as it ends, so a killed or ``--time-limit``-ed run resumes
where it stopped; the figures are those of the points with both trainings.

    python -m benchmarks.bench_fidelity [--points 30] [--factor 4] [--time-limit 1h] [--quick] [--json]

Writes ``benchmarks/results/fidelity.json`` (keys ``points``, ``short_epochs``,
``long_epochs``, ``kendall_tau``, ``spearman_rho``, the per-point accuracies,
the command, the date and the machine).
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from . import results_page
from .harness import emit_json, machine, parse_args

RESULTS = Path(__file__).parent / "results" / "fidelity.json"


def _options(parser) -> None:
    parser.add_argument("--points", type=int, default=30, help="points sampled within the target (default 30)")
    parser.add_argument(
        "--factor", type=float, default=4.0, help="the long schedule's epochs over the proxy's (default 4)"
    )
    parser.add_argument("--time-limit", metavar="T", help="stop starting trainings after T (e.g. 1h); re-run to go on")
    parser.add_argument("--out", default=str(RESULTS), help=f"the resumable results file (default {RESULTS})")


def sample_points(space, target: int, count: int, seed: int, serves) -> list:
    """``count`` distinct points drawn uniformly from the ladders, kept if within the target and servable."""
    rng = random.Random(seed)
    points, seen = [], set()
    for _ in range(200_000):
        if len(points) == count:
            break
        point = space.sample(rng)
        if point in seen:
            continue
        seen.add(point)
        if space.complexity(point).macs <= target and serves(point):
            points.append(point)
    return points


def rank_correlations(short: Sequence[float], long: Sequence[float]) -> dict[str, float]:
    from scipy.stats import kendalltau, spearmanr

    if len(short) < 3:
        return {"kendall_tau": float("nan"), "spearman_rho": float("nan")}
    return {
        "kendall_tau": float(kendalltau(short, long).statistic),
        "spearman_rho": float(spearmanr(short, long).statistic),
    }


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def _save(path: Path, figures: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")
    partial.replace(path)
    if "per_point" in figures:
        results_page.write(path.with_suffix(".md"), markdown(figures))


def markdown(figures: dict[str, Any]) -> str:
    """The results page: the rank correlations and every point's short and long top-1, best long first."""
    rows = [
        (f"`{p['point']}`", f"{p['gmacs']:.4f}", f"{p['short']:.3f}", f"{p['long']:.3f}")
        for p in sorted(figures["per_point"], key=lambda p: -p["long"])
    ]
    carried = figures.get("carried")
    return "\n".join(
        [
            results_page.header("Does the proxy rank like longer training?", figures),
            f"**{figures['points']} of {figures['sampled']} sampled points** with both trainings: "
            f"**Kendall τ {figures['kendall_tau']:.2f}, Spearman ρ {figures['spearman_rho']:.2f}** between "
            f"{figures['short_epochs']:g}-epoch and {figures['long_epochs']:g}-epoch top-1 (same initial weights, "
            f"seed {figures['seed']}).",
            "",
            *(
                [
                    f"Carried: {carried['pairs']} pairs from fingerprint "
                    f"`{carried['from_fingerprint']}` ({carried['why']})",
                    "",
                ]
                if carried
                else []
            ),
            results_page.table(
                [
                    "point",
                    "GMACs",
                    f"top-1 after {figures['short_epochs']:g} epochs",
                    f"after {figures['long_epochs']:g}",
                ],
                rows,
            ),
        ]
    )


def _setting(quick: bool) -> tuple[Any, Any, dict[str, Any]]:
    """The space, the clip cache and the proxy schedule of the default search (a tiny cache with --quick)."""
    from estimators.data.cache import ClipCache
    from nas.engine import open_data, plan_data, proxy_defaults
    from spaces import get_space

    defaults = proxy_defaults("x3d")
    spec = "synth:clips_per_class=12,frames=24,size=32" if quick else defaults["data"]
    existing, synth, classes = plan_data(spec)
    cache = open_data(existing, synth)
    space = get_space("x3d", **{**defaults["space"], "num_classes": classes})
    return space, cache if isinstance(cache, ClipCache) else ClipCache(cache), defaults


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    from estimators.proxy import CandidateFailed, ProxyAccuracy, ProxySchedule
    from nas.values import parse_duration

    args = parse_args(__doc__.splitlines()[0], argv, _options)
    if not 1 <= args.points <= 1000 or not 1 < args.factor <= 100:
        raise SystemExit(
            f"bench_fidelity: --points must be 1-1000 and --factor above 1 (at most 100), got "
            f"{args.points} and {args.factor}"
        )
    limit = parse_duration(args.time_limit)
    space, cache, defaults = _setting(args.quick)
    short_epochs = 1.0 if args.quick else float(defaults["schedule"]["epochs"])
    long_epochs = short_epochs * args.factor
    schedule = ProxySchedule(**{**defaults["schedule"], "epochs": short_epochs, "seed": args.seed})
    estimator = ProxyAccuracy(cache, schedule)
    target = round(float(defaults["target_gflops"]) * 1e9)

    def serves(point) -> bool:
        try:
            estimator.check(space, point)
            return True
        except CandidateFailed:
            return False

    points = sample_points(space, target, 4 if args.quick else args.points, args.seed, serves)
    out = Path(args.out).with_suffix(".quick.json") if args.quick else Path(args.out)
    figures = _load(out)
    wanted = {
        "short_epochs": short_epochs,
        "long_epochs": long_epochs,
        "seed": args.seed,
        "fingerprint": estimator.fingerprint(),
    }
    if any(figures.get(k) != v for k, v in wanted.items()):
        figures = {**wanted, "runs": {}}  # another setting: start again rather than mix
    runs = figures["runs"]
    started = time.monotonic()
    for index, point in enumerate(points):
        for label, epochs in (("short", short_epochs), ("long", long_epochs)):
            key = f"{point.key}|{label}"
            if key in runs:
                continue
            if limit is not None and time.monotonic() - started >= limit:
                break
            begun = time.monotonic()
            try:
                accuracy = float(estimator.evaluate(space, point, epochs).metrics["accuracy"])
            except CandidateFailed as failure:
                accuracy = None
                print(f"  {point.key}: {failure}", file=sys.stderr)
            runs[key] = {"accuracy": accuracy, "seconds": round(time.monotonic() - begun, 1)}
            print(
                f"[{index + 1}/{len(points)}] {label} {epochs:g} epochs {point.key}: "
                f"{'failed' if accuracy is None else f'{accuracy:.3f}'} ({runs[key]['seconds']:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
            figures.update(_summary(points, runs, space, argv))
            _save(out, figures)
    figures.update(_summary(points, runs, space, argv))
    _save(out, figures)
    print(
        f"{figures['points']} of {len(points)} points with both trainings: Kendall tau {figures['kendall_tau']:.3f}, "
        f"Spearman rho {figures['spearman_rho']:.3f} ({short_epochs:g} vs {long_epochs:g} epochs); wrote {out}"
    )
    if args.json:
        emit_json(figures)
    return figures


def _summary(points, runs: dict[str, Any], space, argv) -> dict[str, Any]:
    both = [
        (p, runs[f"{p.key}|short"]["accuracy"], runs[f"{p.key}|long"]["accuracy"])
        for p in points
        if f"{p.key}|short" in runs and f"{p.key}|long" in runs
    ]
    both = [(p, s, lo) for p, s, lo in both if s is not None and lo is not None]
    return {
        "benchmark": "fidelity",
        "date": date.today().isoformat(),
        "machine": machine(),
        "command": "python -m benchmarks.bench_fidelity " + " ".join(argv if argv is not None else sys.argv[1:]),
        "sampled": len(points),
        "points": len(both),
        "per_point": [
            {"point": p.key, "gmacs": space.complexity(p).macs / 1e9, "short": s, "long": lo} for p, s, lo in both
        ],
        **rank_correlations([s for _, s, _ in both], [lo for _, _, lo in both]),
    }


if __name__ == "__main__":
    main()
