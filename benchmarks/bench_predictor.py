"""How well does a predictor rank points it was not fitted on?  Every regressor and feature set, cross-validated.

For a tabular benchmark (default: the one installed with ``nas``), every regressor of
:mod:`estimators.predictor` on every feature set is scored by repeated k-fold cross-validation: Kendall's tau
between predicted and measured top-1 (the mean over a point's training seeds) on the points left out. Beside
them, the table's own noise ceiling: tau between two training seeds of the same points, which bounds how well
anything can rank one training run.

    python -m benchmarks.bench_predictor [--table FILE] [--folds 5] [--repeats 3] [--quick] [--json]

Writes ``benchmarks/results/predictor.json`` and ``predictor.md`` (not with ``--quick``).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from . import results_page
from .harness import emit_json, machine, parse_args

RESULTS = Path(__file__).parent / "results" / "predictor.json"


def _options(parser) -> None:
    parser.add_argument("--table", default=None, help="the tabular benchmark (default: the one installed with nas)")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    parser.add_argument("--repeats", type=int, default=3, help="cross-validation repeats (default 3)")


def _shown(path: Any) -> str:
    """A path relative to the working folder where it lies below it (a checkout), else as it is."""
    import os

    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def _data_name(data: Any) -> Any:
    """The table's data by its fingerprint (the table stores the whole cache description)."""
    return data.get("source_fingerprint", data) if isinstance(data, dict) else data


def seed_agreement(table: Any) -> dict[str, Any]:
    """Kendall's tau between the first two training seeds of every point trained under both: the noise ceiling."""
    from scipy.stats import kendalltau

    pairs = []
    for entry in table.entries.values():
        runs = [run.top1 for run in entry.runs.values() if not run.failed and math.isfinite(run.top1)]
        if len(runs) >= 2:
            pairs.append(runs[:2])
    if len(pairs) < 3:
        return {"points": len(pairs), "kendall_tau": None}
    return {"points": len(pairs), "kendall_tau": float(kendalltau(*zip(*pairs)).statistic)}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    from estimators.predictor import FEATURES, REGRESSORS, held_out_rank_quality, table_targets
    from estimators.tabular import Table
    from nas.tables import default_table
    from spaces import get_space
    from spaces.errors import NasError

    args = parse_args(__doc__.splitlines()[0], argv, _options)
    try:
        table = Table(args.table or default_table())
    except NasError as error:  # a missing or unreadable table: one line, not a traceback
        raise SystemExit(f"bench_predictor: {error}") from None
    space = get_space(table.meta["space"], **table.meta.get("space_settings", {}))
    points, targets = table_targets(table, space)
    regressors = REGRESSORS[:2] if args.quick else REGRESSORS
    features = FEATURES[:1] if args.quick else FEATURES
    rows = []
    for feature_set in features:
        for regressor in regressors:
            quality = held_out_rank_quality(
                points,
                targets,
                space,
                folds=args.folds,
                repeats=1 if args.quick else args.repeats,
                seed=args.seed,
                regressor=regressor,
                features=feature_set,
            )
            rows.append({"features": feature_set, "regressor": regressor, **quality})
            print(
                f"  {feature_set:<18} {regressor:<19} tau "
                f"{quality['kendall_tau']:.3f} ± {quality['kendall_tau_sem']:.3f}",
                file=sys.stderr,
                flush=True,
            )
    figures = {
        "benchmark": "predictor",
        "date": date.today().isoformat(),
        "machine": machine(),
        "command": " ".join(["python -m benchmarks.bench_predictor", *(argv if argv is not None else sys.argv[1:])]),
        "table": _shown(table.path),
        "table_points": len(points),
        "data": _data_name(table.meta.get("data")),
        "rows": rows,
        "seed_agreement": seed_agreement(table),
        "best": max(rows, key=lambda r: r["kendall_tau"]),
    }
    best = figures["best"]
    print(
        f"best: {best['regressor']} on {best['features']}, tau {best['kendall_tau']:.3f}; two training seeds agree at "
        f"tau {figures['seed_agreement']['kendall_tau']}"
    )
    if not args.quick:
        RESULTS.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")
        results_page.write(RESULTS.with_suffix(".md"), markdown(figures))
    if args.json:
        emit_json(figures)
    return figures


def markdown(figures: dict[str, Any]) -> str:
    """The results page: every regressor and feature set's cross-validated tau, and the noise ceiling."""
    rows = [
        (
            r["features"],
            r["regressor"],
            f"{r['kendall_tau']:.3f} ± {r['kendall_tau_sem']:.3f}",
            f"{r['spearman_rho']:.3f}",
        )
        for r in sorted(figures["rows"], key=lambda r: -r["kendall_tau"])
    ]
    ceiling = figures["seed_agreement"]
    first = figures["rows"][0]
    return "\n".join(
        [
            results_page.header("How well does the predictor rank points it was not fitted on?", figures),
            f"Table `{figures['table']}` ({figures['table_points']} points, data `{figures['data']}`); "
            f"{first['folds']}-fold cross-validation repeated {first['repeats']} times; tau ± its standard error over "
            "the folds.",
            "",
            results_page.table(["features", "regressor", "Kendall tau", "Spearman rho"], rows),
            "",
            f"Noise ceiling: two training seeds of the same {ceiling['points']} points agree at Kendall tau "
            f"**{ceiling['kendall_tau']:.3f}**."
            if ceiling["kendall_tau"] is not None
            else "Noise ceiling: not measurable.",
        ]
    )


if __name__ == "__main__":
    main()
