"""``nas report``: a search's trials as a table and a CSV, its expansion path and Pareto front as PNGs.

With no ``--study`` it lists the studies in the storage.  Several ``--study``
flags overlay their Pareto fronts in one plot, which is how strategies
searched on the same settings are compared by eye.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path
from typing import Any

from estimators.files import output_folder, safe_file_name
from spaces.errors import NasError

from ..costs import GMACS, target_of, unit_of
from ..values import STUDY, storage
from .common import print_path, print_table, write_text_atomically

COLUMNS = [
    "trial",
    "state",
    "role",
    "step",
    "axis",
    "point",
    "gmacs",
    "params",
    "top1",
    "top1_se",
    "seed",
    "epochs",
    "seconds",
    "input_shape",
    "note",
]


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("report", help="tables and plots of searches (trials, expansion path, Pareto front)")
    parser.add_argument(
        "--storage", type=storage, metavar="URL", help="Optuna storage URL or SQLite file (default sqlite:///nas.db)"
    )
    parser.add_argument(
        "--study",
        type=STUDY,
        action="append",
        default=[],
        metavar="NAME",
        help="study to report (repeatable: the Pareto fronts are overlaid); none lists the studies",
    )
    parser.add_argument(
        "--out", default="nas-report", metavar="DIR", help="folder for the CSV and PNG files (default nas-report)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of tables")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..storage import check_existing_ledger, storage_url

    url = storage_url(args.storage)
    check_existing_ledger(url)
    if not args.study:
        return _list(url, args.json)
    from ..report import load_report

    out = output_folder(args.out, option="--out", example="nas-report")
    reports = [load_report(url, name) for name in args.study]  # every study opens before anything is written
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise NasError(f"cannot create the report folder {out}: {error.strerror or error}") from None
    summaries = [_report_one(report, out, args.json) for report in reports]
    pareto = _write_pareto(reports, out)
    comparison = [_comparison_row(report) for report in reports]
    if args.json:
        print(json.dumps({"studies": summaries, "comparison": comparison, "pareto_png": str(pareto)}, sort_keys=True))
        return 0
    if len(reports) > 1:
        print(
            "comparison (proxy top-1 of the best trained point within each study's target; train time = "
            "sum of the trainings' seconds):"
        )
        print_table(comparison, list(comparison[0]))
    print(f"Pareto fronts: {pareto}")
    return 0


def _comparison_row(report) -> dict[str, Any]:
    from ..report import macs_of, train_seconds
    from ..strategies.base import best_within

    best = best_within(report.history, target_of(report.config))
    chosen = report.chosen()
    final = report.final_of(chosen)
    seconds = train_seconds(report)
    from ..runner import trained_count

    return {
        "study": report.name,
        "strategy": report.config["strategy"],
        "trained": trained_count(report.history),
        "best proxy top-1": round(best.accuracy, 4) if best else "",
        "chosen": chosen.point.key if chosen else "",
        "chosen GMACs": round(macs_of(chosen) / 1e9, 4) if chosen else "",
        "final top-1": round(final.accuracy, 4) if final else "",
        "train time": _minutes(seconds),
    }


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def _list(url: str, as_json: bool) -> int:
    from ..ledger import list_studies
    from ..report import load_report

    rows = []
    for name in list_studies(url):
        try:
            report = load_report(url, name)
        except NasError as error:
            rows.append({"study": name, "note": str(error)})
            continue
        chosen = report.chosen()
        final = report.final_of(chosen)
        rows.append(
            {
                "study": name,
                "space": report.config["space"],
                "strategy": report.config["strategy"],
                "target": unit_of(report.config).show(target_of(report.config)),
                "trials": len(report.history),
                "chosen": chosen.point.key if chosen else "",
                "proxy top-1": round(chosen.accuracy, 4) if chosen else "",
                "final top-1": round(final.accuracy, 4) if final else "",
            }
        )
    if as_json:
        print(json.dumps(rows, sort_keys=True))
    elif rows:
        print_table(rows, ["study", "space", "strategy", "target", "trials", "chosen", "proxy top-1", "final top-1"])
    else:
        print(f"no studies in {url}")
    return 0


def _report_one(report, out: Path, as_json: bool) -> dict[str, Any]:
    from ..plots import plot_expansion_path
    from ..report import expansion_path, macs_of, trial_rows

    rows = trial_rows(report)
    csv_path = out / f"{safe_file_name(report.name)}-trials.csv"
    write_text_atomically(csv_path, _csv(rows))
    path = expansion_path(report.strategy, report.history)
    chosen = report.chosen()
    final = report.final_of(chosen)
    unit = unit_of(report.config)
    target = target_of(report.config) / 1e9 if unit is GMACS else None  # the path plot's target line is in GMACs
    path_png = None
    if path:
        path_png = out / f"{safe_file_name(report.name)}-path.png"
        plot_expansion_path(
            path,
            title=f"{report.name}: X3D-style expansion on {report.config['space']}",
            target_gmacs=target,
            out=path_png,
            chosen_final=final.accuracy if final else None,
        )
    summary = {
        "study": report.name,
        "strategy": report.config["strategy"],
        "trials": len(report.history),
        "csv": str(csv_path),
        "path_png": str(path_png) if path_png else None,
        "path": path,
        "chosen": None
        if chosen is None
        else {
            "point": chosen.point.key,
            "gmacs": macs_of(chosen) / 1e9,
            "proxy_top1": chosen.accuracy,
            "final_top1": final.accuracy if final else None,
        },
    }
    if not as_json:
        print(
            f"study {report.name!r}: {report.config['space']} by {report.config['strategy']}, "
            f"target {unit.show(target_of(report.config))}, {len(report.history)} trials"
        )
        print_table(rows, COLUMNS)
        if path:
            print_path(path)
        if chosen:
            print(
                f"chosen: {chosen.point.key} ({macs_of(chosen) / 1e9:.4f} GMACs), proxy top-1 {chosen.accuracy:.3f}"
                + (
                    f", final top-1 {final.accuracy:.3f} after {final.attrs.get('fidelity', '?')} epochs"
                    if final
                    else ""
                )
            )
        print(f"wrote {csv_path}" + (f" and {path_png}" if path_png else ""))
        print()
    return summary


def _csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _write_pareto(reports, out: Path) -> Path:
    from ..plots import plot_pareto
    from ..report import macs_of, pareto_front

    strategies = [r.config["strategy"] for r in reports]
    units = {unit_of(r.config) for r in reports}
    unit = units.pop() if len(units) == 1 else GMACS  # studies of mixed costs share the one cost they all have: MACs
    cost = (lambda record: record.cost) if unit is not GMACS else macs_of
    studies = []
    for report in reports:
        label = report.config["strategy"] if strategies.count(report.config["strategy"]) == 1 else report.name
        complete = report.complete()
        studies.append(
            {
                "label": label,
                "points": [(cost(r) / unit.scale, r.accuracy) for r in complete],
                "front": [(cost(r) / unit.scale, r.accuracy) for r in pareto_front(complete, cost)],
            }
        )
    targets = {target_of(r.config) for r in reports if unit_of(r.config) is unit}
    path = out / ("pareto.png" if len(reports) > 1 else f"{safe_file_name(reports[0].name)}-pareto.png")
    plot_pareto(
        studies, out=path, target=targets.pop() / unit.scale if len(targets) == 1 else None, latency=unit is not GMACS
    )
    return path
