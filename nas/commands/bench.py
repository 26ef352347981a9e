"""``nas bench build | info``: the tabular benchmark of a space, built by real proxy training.

``nas bench build`` trains a region of the space (see :mod:`nas.tabular_build`)
with the same proxy schedule ``nas search`` uses by default, once per
``--seeds`` seed, into an HDF5 file; re-running it resumes, and a larger
``--points`` extends it.  ``nas bench info`` summarises a file.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys

from spaces.errors import NasError

from ..strategies.registry import COMPARED_BY_DEFAULT
from ..values import (
    COUNT,
    COUNT_OR_ALL,
    DATA,
    EPOCHS,
    GFLOPS,
    LATENCY_MS,
    SEED,
    THREADS,
    Duration,
    Real,
    Whole,
    input_file,
    output_file,
    output_folder,
)
from .common import add_actions, emit_json

#: How to make a benchmark file that is missing.
BUILD_TABLE = "build one with 'nas bench build --out {path}'"


def register(commands: argparse._SubParsersAction) -> None:
    actions = add_actions(commands, "bench", "the tabular benchmark: build it by proxy training, inspect it")
    build = actions.add_parser("build", help="train a region of the space into an HDF5 table (resumable)")
    build.add_argument(
        "--out",
        required=True,
        type=output_file("table.h5"),
        metavar="FILE",
        help="HDF5 file (created; a rerun adds what is missing)",
    )
    build.add_argument(
        "--points",
        type=COUNT_OR_ALL,
        default=150,
        help="points in the table when done (default 150); all: every point of the region the data can "
        "serve within the target (a complete table, e.g. of --space-option region=expansion)",
    )
    build.add_argument(
        "--seeds", default="0,1", help="training seeds, comma-separated (default 0,1; 0 is nas search's)"
    )
    build.add_argument(
        "--compare-seeds",
        type=Whole(0, 1000),
        default=0,
        metavar="N",
        help="also follow the coordinate search as 'nas bench compare --seeds N' will see the table, so "
        "its overshooting and contracted points are measured, not predicted (default 0)",
    )
    build.add_argument(
        "--follow",
        default="coordinate",
        metavar="STRATEGIES",
        help="the searches whose paths are trained before the region, comma-separated: coordinate, "
        "compound (whose points lie between ladder levels) (default coordinate)",
    )
    build.add_argument("--space", default="x3d", help="space name (default x3d)")
    build.add_argument(
        "--data",
        type=DATA,
        metavar="CACHE",
        help="clip cache, or synth[:key=value,...] (as nas search; default: the space's own)",
    )
    build.add_argument(
        "--target-gflops", type=GFLOPS, metavar="G", help="the region's compute limit (default: nas search's target)"
    )
    build.add_argument("--epochs", type=EPOCHS, default=None, help="proxy epochs per run (default: nas search's)")
    build.add_argument("--region-seed", type=SEED, default=0, help="seed of the random order of the region (default 0)")
    build.add_argument(
        "--time-limit", type=Duration(), metavar="T", help="stop starting runs after T (e.g. 50m); re-run to go on"
    )
    build.add_argument("--threads", type=THREADS, default=2, help="CPU threads per training (default 2)")
    build.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    build.add_argument("--space-option", action="append", default=[], metavar="KEY=VALUE", help="as nas search")
    build.add_argument("--json", action="store_true", help="end with one JSON line of the outcome")
    build.set_defaults(handler=run_build)
    info = actions.add_parser("info", help="what a benchmark file holds")
    info.add_argument("file", type=input_file("table.h5", BUILD_TABLE), metavar="FILE", help="a benchmark file (HDF5)")
    info.add_argument("--json", action="store_true", help="print one JSON object of the counts and the metadata")
    info.set_defaults(handler=run_info)
    register_compare(actions)
    register_fidelity(actions)


def run_build(args: argparse.Namespace) -> int:
    from ..tabular_build import BuildConfig, build_table
    from ..values import parse_options

    command = "nas " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[0].endswith("nas") else None
    outcome = build_table(
        BuildConfig(
            out=args.out,
            points=args.points,
            seeds=args.seeds,
            space=args.space,
            data=args.data,
            target_gflops=args.target_gflops,
            epochs=args.epochs,
            region_seed=args.region_seed,
            time_limit=args.time_limit,
            threads=args.threads,
            device=args.device,
            compare_seeds=args.compare_seeds,
            follow=args.follow,
            space_options=parse_options(args.space_option),
            command=command,
        )
    )
    print(
        f"{outcome['points']} points in {outcome['path']} ({outcome['runs_now']} runs in this build, "
        f"{outcome['seconds']:.0f} s)"
        f"{'; the time limit was reached: re-run to go on' if outcome['stopped'] == 'time limit' else ''}"
    )
    if args.json:
        print(json.dumps(outcome, sort_keys=True))
    return 0


def run_info(args: argparse.Namespace) -> int:
    from estimators.tabular import Table

    from ..tabular_build import runs_summary

    table = Table(args.file)
    summary = {**runs_summary(table), "meta": table.meta}
    if args.json:
        emit_json(summary)
        return 0
    meta = table.meta
    print(
        f"{args.file}: {meta['space']} v{meta['space_version']}, seeds {meta['seeds']}, "
        f"{meta['schedule'].get('epochs')} epochs, target {meta['target_macs'] / 1e9:.4g} GMACs, "
        f"built by {meta.get('command')}"
    )
    for key in ("points", "complete_points", "runs", "failed_runs", "train_hours", "top1_median", "top1_max"):
        print(f"  {key.replace('_', ' ')}: {summary[key]}")
    return 0


def register_compare(actions: argparse._SubParsersAction) -> None:
    compare = actions.add_parser(
        "compare", help="strategies x seeds on equal budgets against the table; tables and plots"
    )
    compare.add_argument(
        "--table",
        type=input_file("table.h5", BUILD_TABLE),
        metavar="FILE",
        help="benchmark file (default: the table installed with nas, nas/tables/x3d_dense.h5)",
    )
    compare.add_argument(
        "--strategies",
        help=f"comma-separated (default: {','.join(COMPARED_BY_DEFAULT)}; the pruning "
        "ones only on a table with learning curves of 2 or more epochs)",
    )
    compare.add_argument("--seeds", type=Whole(1, 10_000), default=20, help="benchmark seeds per strategy (default 20)")
    compare.add_argument(
        "--budget", type=COUNT, help="trained models per run (default: what the coordinate search plans)"
    )
    compare.add_argument(
        "--epsilon", type=Real(0, 1), default=0.01, help="'within epsilon of the best' in top-1 (default 0.01)"
    )
    compare.add_argument(
        "--out",
        default="benchmarks/results",
        type=output_folder(),
        metavar="DIR",
        help="folder for compare.csv/.md and PNGs",
    )
    compare.add_argument(
        "--cost",
        choices=("flops", "latency"),
        default="flops",
        help="what the target limits: flops (the table's MACs target; the default) or latency "
        "(predicted ms at batch 1 on this machine, per-layer table, --target-ms)",
    )
    compare.add_argument(
        "--target-ms", type=LATENCY_MS, metavar="T", help="latency target in ms per clip (with --cost latency)"
    )
    compare.add_argument(
        "--latency-threads", type=THREADS, default=1, metavar="N", help="CPU threads of the latency table (default 1)"
    )
    compare.add_argument("--json", action="store_true", help="end with one JSON line of the rows")
    compare.set_defaults(handler=run_compare)


def default_table_text() -> str:
    """The installed default table's path, relative to the working folder where it lies below it (a checkout)."""
    import os

    from ..tables import default_table

    path = default_table()
    try:
        return os.path.relpath(path) if not os.path.relpath(path).startswith("..") else str(path)
    except ValueError:  # another drive (Windows)
        return str(path)


def run_compare(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from ..bench_compare import CompareConfig, compare, display_rows, verdict_rows
    from .common import print_table

    args.table = args.table or default_table_text()
    result = compare(CompareConfig(**{f.name: getattr(args, f.name) for f in fields(CompareConfig)}))
    rows = display_rows(result)
    print_table(rows, list(rows[0]))
    print("\nverdict (Wilcoxon against random search, Holm-corrected; models and simulated seconds to within eps):")
    verdict = verdict_rows(result)
    print_table(verdict, list(verdict[0]))
    quality = result["predictor"]
    print(
        f"predictor on held-out table points: Kendall tau {quality['kendall_tau']:.3f}, Spearman rho "
        f"{quality['spearman_rho']:.3f} ({quality['n_test']} points); wrote {args.out}/compare.csv, compare.md, "
        "compare.json, anytime.png, anytime_seconds.png, pareto.png"
    )
    if args.json:
        print(json.dumps(result, sort_keys=True, default=str))
    return 0


def register_fidelity(actions: argparse._SubParsersAction) -> None:
    fidelity = actions.add_parser(
        "fidelity", help="retrain a sample of a table's points on a longer schedule; rank correlation"
    )
    fidelity.add_argument(
        "--table",
        type=input_file("table.h5", BUILD_TABLE),
        metavar="FILE",
        help="the short-schedule table (default: the table installed with nas)",
    )
    fidelity.add_argument(
        "--out",
        required=True,
        type=output_file("long.h5"),
        metavar="FILE",
        help="HDF5 file of the long-schedule runs (resumable)",
    )
    fidelity.add_argument("--epochs", type=EPOCHS, required=True, help="epochs of the long schedule, e.g. 12")
    fidelity.add_argument("--points", type=COUNT, default=20, help="how many of the table's points (default 20)")
    fidelity.add_argument(
        "--sample-seed",
        type=SEED,
        default=0,
        help="seed of the sample: the table's points shuffled by it, the first N taken (default 0)",
    )
    fidelity.add_argument("--seeds", default="0", help="training seeds of the long runs (default 0)")
    fidelity.add_argument(
        "--data", type=DATA, metavar="CACHE", help="the table's data (as nas search; default: its space's own)"
    )
    fidelity.add_argument(
        "--time-limit", type=Duration(), metavar="T", help="stop starting runs after T; re-run to go on"
    )
    fidelity.add_argument("--threads", type=THREADS, default=2, help="CPU threads per training (default 2)")
    fidelity.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda or cuda:N")
    fidelity.add_argument("--json", action="store_true", help="end with one JSON line of the correlation")
    fidelity.set_defaults(handler=run_fidelity)


def run_fidelity(args: argparse.Namespace) -> int:
    import random

    from estimators.proxy import ProxyAccuracy, ProxySchedule, resolve_device
    from estimators.tabular import Table
    from spaces import get_space

    from ..engine import open_data, plan_data
    from ..progress import SearchProgress
    from ..tabular_build import TableBuilder, fidelity_correlation, seeds_argument
    from ..values import parse_duration

    if not args.epochs > 0 or args.points < 3:
        raise NasError(f"--epochs must be positive and --points at least 3 (got {args.epochs}, {args.points})")
    seeds = seeds_argument(args.seeds)
    args.table = args.table or default_table_text()
    short = Table(args.table)
    meta = short.meta
    space = get_space(meta["space"], **meta["space_settings"])
    order = [space.point(dict(e.values)) for e in short.entries.values()]
    random.Random(args.sample_seed).shuffle(order)  # a sample of the whole table; a larger --points extends it
    order = order[: args.points]
    args.data = args.data or space.default_data
    existing, synth_settings, _ = plan_data(args.data)
    cache = open_data(existing, synth_settings)
    from estimators.proxy import data_fingerprint

    if str(space.version) != str(meta["space_version"]):
        raise NasError(
            f"{args.table} was built on {meta['space']} version {meta['space_version']}; "
            f"this toolkit has {space.version}"
        )
    if json.loads(json.dumps(data_fingerprint(cache))) != meta["data"]:
        raise NasError(
            f"--data {args.data!r} is not the data {args.table} was built on "
            f"({meta['data'].get('source_fingerprint')}); give the same --data"
        )
    schedule = {
        k: v
        for k, v in meta["schedule"].items()
        if k in ("batch_size", "optimizer", "lr", "weight_decay", "channels_last")
    }
    estimators = {
        s: ProxyAccuracy(
            cache,
            ProxySchedule(**schedule, epochs=args.epochs, seed=s, threads=args.threads, curve=True),
            device=resolve_device(args.device),
        )
        for s in seeds
    }
    builder = TableBuilder(
        args.out,
        space,
        estimators,
        target=int(meta["target_macs"]),
        order=order,
        meta={"command": "nas bench fidelity", "short_table": str(args.table)},
        progress=SearchProgress(),
    )
    outcome = builder.build(args.points, parse_duration(args.time_limit))
    result = {
        **fidelity_correlation(short, Table(args.out), space),
        "long_epochs": args.epochs,
        "short_epochs": meta["schedule"].get("epochs"),
        "stopped": outcome["stopped"],
    }
    print(
        f"{result['points']} points: Kendall tau {result['kendall_tau']:.3f}, "
        f"Spearman rho {result['spearman_rho']:.3f} between {result['short_epochs']} and {args.epochs:g} epochs"
    )
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return 0
