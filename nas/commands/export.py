"""``nas export``: write a search's chosen model (or its best within a compute level) for reuse elsewhere.

The file names the space, its version and the settings the search ran with,
so ``spaces.build_exported(path)`` rebuilds the very network in one call.
"""

from __future__ import annotations

import argparse
import json

from spaces.errors import NasError

from ..values import GFLOPS, STUDY, output_file, storage
from .common import write_text_atomically


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("export", help="write a search's chosen model to a YAML file that rebuilds it")
    parser.add_argument(
        "--storage", type=storage, metavar="URL", help="Optuna storage URL or SQLite file (default sqlite:///nas.db)"
    )
    parser.add_argument(
        "--study", type=STUDY, required=True, metavar="NAME", help="the search's study (see 'nas report')"
    )
    parser.add_argument(
        "--out",
        required=True,
        type=output_file("best.yaml"),
        metavar="FILE",
        help="the YAML file to write, e.g. best.yaml",
    )
    parser.add_argument(
        "--gflops",
        type=GFLOPS,
        metavar="G",
        help="export the most accurate trained point at or under G GMACs instead of the search's choice",
    )
    parser.add_argument("--json", action="store_true", help="also print what was exported as one JSON line")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from spaces._version import __version__
    from spaces.exported import format_exported

    from ..report import load_report, macs_of
    from ..storage import check_existing_ledger, redacted, storage_url
    from ..strategies.base import best_within

    if args.gflops is not None and not args.gflops > 0:
        raise NasError(f"--gflops must be positive, got {args.gflops}")
    url = storage_url(args.storage)
    check_existing_ledger(url)
    report = load_report(url, args.study)
    if args.gflops is None:
        record, how = report.chosen(), "the search's chosen model"
        if record is None:
            raise NasError(
                f"study {args.study!r} has no chosen model yet (no candidate completed); resume the search first"
            )
    else:
        record, how = (
            best_within(report.history, args.gflops * 1e9, macs_of),
            f"the most accurate trained point within {args.gflops:g} GMACs",
        )
        if record is None:
            cheapest = min((macs_of(r) for r in report.complete()), default=None)
            hint = (
                f"its cheapest trained point needs {cheapest / 1e9:.4g} GMACs"
                if cheapest
                else "it has no completed trial"
            )
            raise NasError(
                f"study {args.study!r} has no trained point within {args.gflops:g} GMACs ({hint}); raise --gflops"
            )
    space, final = report.space, report.final_of(record)
    url = redacted(url)
    fields = {
        "space": space.name,
        "space_version": str(space.version),
        "settings": space.settings(),
        "point": dict(record.point.as_dict()),
        "key": record.point.key,
        "gmacs": macs_of(record) / 1e9,
        "params": record.attrs.get("params"),
        "input_shape": list(space.input_shape(record.point)),
        "proxy_top1": record.accuracy,
        "proxy_epochs": record.attrs.get("fidelity"),
        "final_top1": final.accuracy if final else None,
        "final_epochs": final.attrs.get("fidelity") if final else None,
        "selected_as": how,
        "study": report.name,
        "storage": url,
        "strategy": report.config["strategy"],
        "toolkit_version": __version__,
    }
    comments = (
        f"{how} of study {report.name!r} ({url}), exported by nas {__version__}.",
        "Rebuild it as a torch.nn.Module (needs torch and this toolkit's 'spaces' package):",
        "  from spaces import build_exported",
        f"  model = build_exported({args.out!r})",
        "MACs are multiply-adds per clip at input_shape (batch, channels, frames, height, width).",
    )
    write_text_atomically(args.out, format_exported(fields, comments))
    print(f"wrote {args.out}: {record.point.key} ({macs_of(record) / 1e9:.4f} GMACs, {how})")
    if args.json:
        print(json.dumps(fields, sort_keys=True))
    return 0
