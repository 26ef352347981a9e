"""``nas space list | show | export``: inspect and export search spaces."""

from __future__ import annotations

import argparse
import json

from spaces import SearchSpace, get_space, list_spaces
from spaces.axis import format_value
from spaces.errors import NasError

from ..values import output_file
from .common import (
    add_point_arguments,
    add_space_argument,
    chosen_point,
    emit_json,
    format_count,
    open_space,
    print_table,
    shape_text,
    write_text_atomically,
)

MACS_UNIT = "MACs (multiply-adds of conv and linear layers)"


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("space", help="list, show and export search spaces")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True

    listing = actions.add_parser("list", help="one space per line, its name first")
    listing.set_defaults(handler=run_list)

    show = actions.add_parser("show", help="axes and presets of a space, or the network of one point")
    add_space_argument(show, positional=True)
    add_point_arguments(show, required=False)
    show.add_argument("--json", action="store_true", help="print JSON only")
    show.set_defaults(handler=run_show)

    export = actions.add_parser("export", help="the space as Optuna distributions, NNI search-space JSON, or JSON")
    add_space_argument(export, positional=True)
    export.add_argument(
        "--format",
        required=True,
        choices=("optuna", "nni", "json"),
        help=(
            "optuna: distributions as Optuna's JSON (json_to_distribution); nni: NNI search-space JSON; "
            "json: the axes, levels and presets"
        ),
    )
    export.add_argument(
        "--full-range", action="store_true", help="export each axis's whole valid range instead of its ladder levels"
    )
    export.add_argument(
        "--out", type=output_file("space.json"), metavar="FILE", help="write to FILE (atomically) instead of stdout"
    )
    export.set_defaults(handler=run_export)


def run_list(args: argparse.Namespace) -> int:
    for name in list_spaces():
        try:
            space = get_space(name)
            print(f"{name}\t{space.title or type(space).__name__}\tpresets: {', '.join(space.presets) or '-'}")
        except NasError as error:
            print(f"{name}\t(unavailable: {error})")
    return 0


def _space_overview(space: SearchSpace) -> dict:
    overview = space.describe()
    overview["presets"] = {
        name: {"point": point.key, **space.complexity(point).as_dict()} for name, point in space.presets.items()
    }
    return overview


def _print_overview(space: SearchSpace) -> None:
    print(f"space {space.name} (version {space.version}): {space.title}")
    print(f"base point: {space.base.key}\n")
    print("axes (any value in range is valid; strategies move along the ladder):")
    print_table(
        [
            {
                "axis": a.name,
                "symbol": a.symbol,
                "type": "int" if a.integer else "float",
                "range": f"{format_value(a.low)}..{format_value(a.high)}",
                "base": format_value(a.base),
                "ladder": " ".join(format_value(v) for v in a.ladder),
            }
            for a in space.axes
        ],
        ["axis", "symbol", "type", "range", "base", "ladder"],
    )
    print("\noperations: " + ", ".join(f"{op.name} ({op.label})" for op in space.operations))
    print(f"\npresets ({MACS_UNIT}, at batch 1 and the training crop):")
    rows = []
    for name, point in space.presets.items():
        cost = space.complexity(point)
        rows.append(
            {
                "preset": name,
                "MACs": format_count(cost.macs),
                "params": format_count(cost.params),
                "params w/o BN": format_count(cost.params_without_bn),
                "point": point.key,
            }
        )
    print_table(rows, ["preset", "MACs", "params", "params w/o BN", "point"])


def run_show(args: argparse.Namespace) -> int:
    space = open_space(args)
    if args.preset is None and args.point is None:
        if args.json:
            emit_json(_space_overview(space))
        else:
            _print_overview(space)
        return 0
    point, preset = chosen_point(space, args)
    cost = space.complexity(point, args.num_classes)
    rows = space.summary_rows(point, args.num_classes)
    shape = space.input_shape(point)
    clip = space.clip_spec(point)
    if args.json:
        emit_json(
            {
                "space": space.name,
                "preset": preset,
                "point": point.key,
                "input_shape": list(shape),
                "clip": clip.__dict__ | {"short_side": list(clip.short_side)},
                "parts": rows,
                **cost.as_dict(),
            }
        )
        return 0
    print(f"space {space.name} v{space.version}  point {point.key}" + (f"  (preset {preset})" if preset else ""))
    read = (
        "one frame as an image"
        if clip.image
        else f"{clip.frames} frames every {clip.stride} at {clip.fps:g} fps ({clip.duration_seconds:.2f} s)"
    )
    print(
        f"input {shape_text(shape)}; clip: {read}, "
        f"short side {clip.short_side[0]}-{clip.short_side[1]}, crop {clip.crop}\n"
    )
    for row in rows:
        row["MACs"], row["params"] = format_count(row.pop("macs")), format_count(row.pop("params"))
    print_table(rows, list(rows[0]))
    print(
        f"\ntotal: {format_count(cost.macs)} {MACS_UNIT}; {format_count(cost.params)} params "
        f"({format_count(cost.params_without_bn)} without BN); {format_count(cost.activations)} activations"
    )
    return 0


def _export_payload(space: SearchSpace, fmt: str, on_ladder: bool) -> dict:
    if fmt == "nni":
        return space.to_nni(on_ladder=on_ladder)
    if fmt == "optuna":
        from optuna.distributions import distribution_to_json

        return {name: json.loads(distribution_to_json(d)) for name, d in space.to_optuna(on_ladder=on_ladder).items()}
    return space.describe()


def run_export(args: argparse.Namespace) -> int:
    space = open_space(args)
    text = json.dumps(_export_payload(space, args.format, on_ladder=not args.full_range), indent=2) + "\n"
    if args.out:
        write_text_atomically(args.out, text)
        print(f"wrote {args.format} export of space {space.name} to {args.out}")
    else:
        print(text, end="")
    return 0
