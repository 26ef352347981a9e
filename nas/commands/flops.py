"""``nas flops``: analytic complexity of a preset or point, optionally cross-checked by counting."""

from __future__ import annotations

import argparse

from spaces.errors import NasError

from .common import (
    add_point_arguments,
    add_space_argument,
    emit_json,
    exported_or_chosen,
    format_count,
    shape_text,
)

UNIT = "multiply-adds of conv and linear layers (1 fused multiply-add = 1)"


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("flops", help="MACs and parameters of a preset or point (analytic, no model built)")
    add_space_argument(parser, positional=False, required=False)
    add_point_arguments(parser, required=True, exported=True)
    parser.add_argument("--json", action="store_true", help="print one JSON object, alone on stdout")
    parser.add_argument(
        "--measure", action="store_true", help="also build the model (meta device) and count it, as a cross-check"
    )
    parser.set_defaults(handler=run)


def thop_line(thop: dict, analytic_macs: int) -> str:
    """thop's total, and why it differs from the analytic count: what it adds beyond the convention."""
    verdict = "matches" if thop["conv_linear_matches"] else "DIFFERS from"
    extra = ", ".join(f"{kind} {macs:,}" for kind, macs in thop["beyond_convention"].items())
    return (
        f"thop          {thop['macs']:,} MACs: its conv+linear share {thop['conv_linear_macs']:,} {verdict} the "
        f"analytic count; the rest ({extra or 'none'}) is what the convention leaves out (thop also cannot see "
        "functional ops: residual adds, SE gating)"
    )


def run(args: argparse.Namespace) -> int:
    space, point, preset = exported_or_chosen(args)
    cost = space.complexity(point, args.num_classes)
    result = {
        "space": space.name,
        "space_version": space.version,
        "preset": preset,
        "point": point.key,
        "input_shape": list(space.input_shape(point)),
        "unit": UNIT,
        **cost.as_dict(),
        "gmacs": cost.macs / 1e9,
    }
    if args.measure:
        from estimators.complexity import MeasuredComplexity

        measured = MeasuredComplexity(num_classes=args.num_classes).evaluate(space, point)
        result["measured"] = {**measured.metrics, "uncounted_ops": measured.info["uncounted_ops"]}
        result["measured_matches"] = all(measured.metrics[k] == result[k] for k in measured.metrics)
        result["thop"] = {
            **measured.info["thop"],
            "conv_linear_matches": measured.info["thop"]["conv_linear_macs"] == cost.macs,
        }
    if args.json:
        emit_json(result)
    else:
        label = f"{space.name} {preset}" if preset else space.name
        print(f"{label}  {point.key}")
        print(f"input shape   {shape_text(result['input_shape'])}")
        print(f"MACs          {cost.macs:,} ({format_count(cost.macs)}MACs; {UNIT})")
        print(f"params        {cost.params:,} ({format_count(cost.params)}; {cost.params_without_bn:,} without BN)")
        print(f"activations   {cost.activations:,}")
        if args.measure:
            m = result["measured"]
            verdict = "matches" if result["measured_matches"] else "DIFFERS from"
            print(f"measured      {m['macs']:,} MACs, {m['params']:,} params: {verdict} the analytic count")
            if m["uncounted_ops"]:
                print(f"uncounted ops {m['uncounted_ops']}")
            print(thop_line(result["thop"], cost.macs))
    if args.measure and not (result["measured_matches"] and result["thop"]["conv_linear_matches"]):
        raise NasError("the measured count differs from the analytic one; please report this point as a bug")
    return 0
