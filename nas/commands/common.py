"""Arguments and helpers shared by several subcommands."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from estimators.files import write_atomically
from spaces import Point, SearchSpace, get_space
from spaces.errors import NasError

from ..values import COUNT, LATENCY_MS, THREADS, input_file


def add_actions(commands: argparse._SubParsersAction, name: str, help: str) -> argparse._SubParsersAction:
    """A command with actions of its own (``nas data build``, ``nas bench info``)."""
    parser = commands.add_parser(name, help=help)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    return actions


def add_space_argument(parser: argparse.ArgumentParser, *, positional: bool, required: bool = True) -> None:
    if positional:
        parser.add_argument("space", help="space name (see 'nas space list')")
    else:
        parser.add_argument(
            "--space",
            required=required,
            help="space name (see 'nas space list')" + ("" if required else "; not needed with --exported"),
        )
    parser.add_argument(
        "--num-classes",
        type=COUNT,
        default=None,
        metavar="K",
        help="classes of the classifier (default: the space's, 400 for x3d)",
    )


def add_point_arguments(parser: argparse.ArgumentParser, *, required: bool, exported: bool = False) -> None:
    group = parser.add_mutually_exclusive_group(required=required)
    if exported:
        group.add_argument(
            "--exported",
            type=input_file("best.yaml"),
            metavar="FILE",
            help="a model file 'nas export' wrote (its space and point)",
        )
    group.add_argument("--preset", help="a named preset, e.g. XS, S, M, L for x3d")
    group.add_argument(
        "--point",
        metavar="AXIS=VALUE,...",
        help='coordinates, e.g. "frames=16,stride=5,crop=224,width=1,bottleneck=2.25,depth=2.2"; '
        "axes left out take the base value",
    )


def add_cost_arguments(parser: argparse.ArgumentParser) -> None:
    """``--cost``, ``--target-ms`` and ``--latency-threads`` (nas search and nas bench compare)."""
    from ..costs import COST_KINDS, DEFAULT_LATENCY_THREADS

    parser.add_argument(
        "--cost",
        choices=COST_KINDS,
        default="flops",
        help="what the target limits: flops (analytic MACs, --target-gflops; the default) or latency "
        "(predicted inference ms at batch 1 on this machine, per-layer table, --target-ms)",
    )
    parser.add_argument(
        "--target-ms",
        type=LATENCY_MS,
        metavar="T",
        help="latency target in milliseconds per clip (with --cost latency)",
    )
    parser.add_argument(
        "--latency-threads",
        type=THREADS,
        default=DEFAULT_LATENCY_THREADS,
        metavar="N",
        help=f"CPU threads latency is measured with (--cost latency; default {DEFAULT_LATENCY_THREADS})",
    )


def open_space(args: argparse.Namespace) -> SearchSpace:
    if args.num_classes is not None and args.num_classes < 1:
        raise NasError(f"--num-classes must be at least 1, got {args.num_classes}")
    options = {"num_classes": args.num_classes} if args.num_classes is not None else {}
    return get_space(args.space, **options)


def chosen_point(space: SearchSpace, args: argparse.Namespace) -> tuple[Point, str | None]:
    """The point named by ``--preset`` or ``--point`` (and the preset's name, if any)."""
    if args.preset is not None:
        name = space.preset_name(args.preset)
        return space.preset(name), name
    return space.parse_point(args.point), None


def exported_or_chosen(args: argparse.Namespace) -> tuple[SearchSpace, Point, str | None]:
    """Space, point and preset name from ``--exported FILE``, or from ``--space`` with ``--preset``/``--point``."""
    if getattr(args, "exported", None):
        from spaces import load_exported

        exported = load_exported(args.exported)
        if args.space is not None and args.space != exported.space_name:
            raise NasError(
                f"{args.exported} holds a {exported.space_name!r} model, not {args.space!r}; leave out --space"
            )
        space = exported.space()
        return space, space.point(dict(exported.values)), None
    if args.space is None:
        raise NasError("--space is required with --preset or --point (or give --exported FILE)")
    space = open_space(args)
    point, preset = chosen_point(space, args)
    return space, point, preset


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    """Write a whole text file or nothing."""
    write_atomically(path, lambda tmp: Path(tmp).write_text(text))


def emit_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, indent=2)
    sys.stdout.write("\n")


def format_count(value: float, unit: str = "") -> str:
    """1234567 -> '1.235 M' (G for >= 1e9, M for >= 1e6, k for >= 1e3)."""
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3f} {prefix}{unit}"
    return f"{value:g} {unit}".rstrip()


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        print("(none)")
        return
    cells = [[str(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def print_path(path: list[dict[str, Any]]) -> None:
    """The coordinate search's path as a table: each step's kept axis, its margin and every candidate's top-1."""
    print("expansion path (top-1 after the proxy schedule, ± its standard error):")
    rows = [
        {
            "step": s["step"],
            "axis": s["operation"] or "-",
            "role": s["role"],
            "point": s["point"],
            "GMACs": f"{s['gmacs']:.4f}",
            **({"ms": f"{s['latency_ms']:.3f}"} if "latency_ms" in s else {}),
            "top-1": _accuracy_text(s),
            "decision": _decision_text(s.get("decision")),
            "candidates (top-1)": " ".join(
                f"{op}={c['accuracy']:.3f}" if c["accuracy"] is not None else f"{op}=failed"
                for op, c in s["candidates"].items()
            ),
        }
        for s in path
    ]
    latency = ["ms"] if any("ms" in row for row in rows) else []
    print_table(rows, ["step", "axis", "role", "point", "GMACs", *latency, "top-1", "decision", "candidates (top-1)"])


def _accuracy_text(step: dict[str, Any]) -> str:
    if step["accuracy"] is None:
        return "-"
    se, runs = step.get("accuracy_se"), step.get("runs", 1)
    return (
        f"{step['accuracy']:.3f}" + (f"±{se:.3f}" if se is not None else "") + (f" ({runs} seeds)" if runs > 1 else "")
    )


def _decision_text(decision: dict[str, Any] | None) -> str:
    """A step's margin over its runner-up, in standard errors of that margin, and the tie rule's outcome."""
    if not decision or decision.get("margin") is None:
        return ""
    margin, noise = decision["margin"], decision.get("noise")
    sigmas = f" = {margin / noise:.1f} SE" if noise else ""
    if decision.get("tie"):
        return f"TIE +{margin:.3f}{sigmas}: {decision.get('outcome')} ({','.join(decision.get('tied', []))})"
    return f"+{margin:.3f}{sigmas}"


def shape_text(shape: tuple[int, ...] | list[int]) -> str:
    """An input shape with its axes named: a clip (batch x channels x frames x height x width) or an image."""
    names = "batch x channels x frames x height x width" if len(shape) == 5 else "batch x channels x height x width"
    return f"{'x'.join(map(str, shape))} ({names})"
