"""Does every X3D axis matter on the synthetic data?  Short proxy trainings at equal time.

One small X3D (width 0.5, bottleneck 2.25, depth 1, a 256-wide head; AdamW,
lr 5e-3) is trained for the same wall-clock time per setting on the default
synthetic cache, then evaluated on its validation split (centre clips):

- ablations: a single frame (on the default scenes data at least 3x chance,
  from appearance; on ``synth-motion`` at chance), shuffled frame order (should
  cost points), the reference 8 frames x stride 4 at 48^2;
- frame rate (X-Fast, same clip duration): 4x8, 8x4, 16x2;
- duration (X-Temporal, same stride): 4x4, 8x4, 16x4;
- resolution (X-Spatial): crops 16, 24, 32, 48.

    python -m benchmarks.bench_synth_axes [--quick] [--json] [--seconds S] [--cache CACHE]

Writes ``benchmarks/results/synth_axes.json`` (not with ``--quick``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from . import results_page
from .harness import emit_json, machine, parse_args

RESULTS = Path(__file__).parent / "results" / "synth_axes.json"

REFERENCE = (8, 4, 48)


@dataclass(frozen=True)
class Setting:
    group: str
    name: str
    frames: int
    stride: int
    crop: int
    shuffle: bool = False


SETTINGS = [
    Setting("ablation", "single frame", 1, 1, 48),
    Setting("ablation", "shuffled frames 8x4", 8, 4, 48, shuffle=True),
    Setting("reference", "8x4 @48", *REFERENCE),
    Setting("frame rate", "4x8 @48", 4, 8, 48),
    Setting("frame rate", "16x2 @48", 16, 2, 48),
    Setting("duration", "4x4 @48", 4, 4, 48),
    Setting("duration", "16x4 @48", 16, 4, 48),
    Setting("resolution", "8x4 @16", 8, 4, 16),
    Setting("resolution", "8x4 @24", 8, 4, 24),
    Setting("resolution", "8x4 @32", 8, 4, 32),
]
QUICK = SETTINGS[:3]
#: Which settings each axis compares (the reference belongs to all three).
AXES = {
    "frame rate": ["4x8 @48", "8x4 @48", "16x2 @48"],
    "duration": ["4x4 @48", "8x4 @48", "16x4 @48"],
    "resolution": ["8x4 @16", "8x4 @24", "8x4 @32", "8x4 @48"],
}


#: Class pairs built to depend on one axis (mean top-1 of the pair), for the default scenes data: speed on any
#: second frame, vibrate/wander on frame rate, blink/stay on duration, textured/plain on resolution, xor on capacity;
#: and for the motion data (synth-motion): shake on frame rate, sway and blink on duration, spin on resolution.
KEY_CLASSES = {
    "scenes": ("walk/run", "vibrate/wander", "blink/stay", "textured/plain", "xor_a/xor_b"),
    "motion": ("shake", "sway", "blink", "spin_cw/spin_ccw"),
}


def _class_top1(row: dict, name: str) -> float:
    """Top-1 of a class, or the mean over a pair written ``a/b``."""
    per_class = row["per_class_top1"]
    values = [per_class.get(part, float("nan")) for part in name.split("/")]
    return sum(values) / len(values)


def key_classes(classes: Sequence[str]) -> tuple[str, ...]:
    return KEY_CLASSES["scenes" if "vibrate" in classes else "motion"]


def _options(parser) -> None:
    parser.add_argument("--seconds", type=float, default=None, help="training time per setting (default 180, quick 15)")
    parser.add_argument(
        "--epochs",
        type=float,
        default=None,
        help="train every setting for this many epochs instead of for equal time: the axes compared at "
        "equal training steps, so a costlier setting is not also a shorter-trained one",
    )
    parser.add_argument(
        "--cache", default=None, help="clip cache (default: the embedded synthetic cache, built if needed)"
    )


def train_setting(cache, setting: Setting, seconds: float | None, seed: int, epochs: float | None = None) -> dict:
    from estimators.data.dataset import ClipDataset, ClipSampling
    from estimators.training import TrainSettings, build_seeded, train
    from spaces import get_space

    space = get_space("x3d", num_classes=len(cache.classes), base_crop=48, base_stride=4, head_width=256, dropout=0.2)
    point = space.point(
        frames=setting.frames, stride=setting.stride, crop=setting.crop, width=0.5, bottleneck=2.25, depth=1.0
    )
    sampling = dict(frames=setting.frames, stride=setting.stride, crop=setting.crop, shuffle_frames=setting.shuffle)
    train_set = ClipDataset(cache, "train", ClipSampling(mode="train", **sampling), seed=seed)
    val_set = ClipDataset(cache, "val", ClipSampling(mode="val", **sampling), seed=seed)
    budget = {"epochs": epochs, "seconds": None} if epochs is not None else {"seconds": seconds}
    settings = TrainSettings(**budget, optimizer="adamw", lr=5e-3, weight_decay=0.05, batch_size=16, seed=seed)
    result = train(build_seeded(space, point, seed), train_set, val_set, settings)
    per_class = dict(zip(cache.classes, (round(v, 3) for v in result.per_class_top1)))
    return {
        "group": setting.group,
        "setting": setting.name,
        "point": point.key,
        "top1": round(result.top1, 4),
        "epochs": round(result.epochs, 2),
        "clips_per_s": round(result.clips_per_second, 1),
        "gmacs": round(space.complexity(point).macs / 1e9, 4),
        "per_class_top1": per_class,
    }


def run(quick: bool, seed: int, seconds: float | None, cache_path: str | None, epochs: float | None = None) -> dict:
    from estimators.data.cache import ClipCache
    from estimators.data.default import ensure_default_cache

    cache = ClipCache(cache_path or ensure_default_cache(workers=2))
    seconds = None if epochs is not None else seconds or (15.0 if quick else 180.0)
    rows = []
    for setting in QUICK if quick else SETTINGS:
        rows.append(train_setting(cache, setting, seconds, seed, epochs))
        print(
            f"  {setting.group:<10} {setting.name:<20} top-1 {rows[-1]['top1']:.3f}  ({rows[-1]['epochs']:.1f} epochs, "
            f"{rows[-1]['clips_per_s']:.0f} clips/s)",
            file=sys.stderr,
            flush=True,
        )
    by_name = {row["setting"]: row["top1"] for row in rows}
    chance = 1 / len(cache.classes)
    spreads = {
        axis: round(max(by_name[n] for n in names) - min(by_name[n] for n in names), 4)
        for axis, names in AXES.items()
        if all(n in by_name for n in names)
    }
    return {
        "benchmark": "synth_axes",
        "quick": quick,
        "seconds_per_setting": seconds,
        "epochs_per_setting": epochs,
        "chance": round(chance, 4),
        "rows": rows,
        "single_frame_over_chance": round(by_name["single frame"] / chance, 3),
        "shuffled_minus_ordered": round(by_name["shuffled frames 8x4"] - by_name["8x4 @48"], 4),
        "axis_spread": spreads,
        "cache": str(cache.path),
        "machine": machine(),
        "date": date.today().isoformat(),
        "data": cache.meta.get("source_fingerprint"),
        "command": "python -m benchmarks.bench_synth_axes " + " ".join(sys.argv[1:]),
    }


def _budget_text(figures: dict) -> str:
    epochs = figures.get("epochs_per_setting")
    return f"{epochs:g} epochs" if epochs is not None else f"{figures['seconds_per_setting']:.0f} s"


def markdown(figures: dict) -> str:
    """The results page: each setting's top-1, epochs in the time given and its axis's class pairs; the checks."""
    pairs = key_classes(list(figures["rows"][0]["per_class_top1"]))
    rows = [
        (
            row["group"],
            row["setting"],
            f"**{100 * row['top1']:.1f} %**",
            f"{row['epochs']:.1f}",
            *(f"{_class_top1(row, pair):.2f}" for pair in pairs),
        )
        for row in figures["rows"]
    ]
    spreads = ", ".join(f"{axis} {100 * spread:.1f}" for axis, spread in figures["axis_spread"].items())
    return "\n".join(
        [
            results_page.header("Does every axis matter on the synthetic data?", figures),
            f"Data `{figures.get('data')}`, {_budget_text(figures)} of training per setting, "
            f"chance {100 * figures['chance']:.1f} %.",
            "",
            results_page.table(
                [
                    "group",
                    "setting",
                    "top-1",
                    "epochs" if figures.get("epochs_per_setting") else f"epochs in {_budget_text(figures)}",
                    *pairs,
                ],
                rows,
            ),
            "",
            f"- a single frame: **{figures['single_frame_over_chance']:.1f}× chance** (target ≥ 3×);",
            f"- shuffled frames against ordered: **{100 * figures['shuffled_minus_ordered']:+.1f} points** "
            "(target: a cost);",
            f"- best − worst setting per axis, in points: **{spreads}** (target ≥ 5 each).",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv, extra=_options)
    if args.epochs is not None and args.seconds is not None:
        raise SystemExit("bench_synth_axes: give --seconds (equal time) or --epochs (equal steps), not both")
    figures = run(args.quick, args.seed, args.seconds, args.cache, args.epochs)
    print(f"synthetic data, {_budget_text(figures)} of training per setting, chance {figures['chance']:.3f}")
    keys_shown = key_classes(list(figures["rows"][0]["per_class_top1"]))
    print(
        f"{'group':<11}{'setting':<21}{'top-1':>7}{'epochs':>8}{'clips/s':>9}{'GMACs':>8}"
        + "".join(f"{c:>16}" for c in keys_shown)
    )
    for row in figures["rows"]:
        keys = "".join(f"{_class_top1(row, c):>16.2f}" for c in keys_shown)
        print(
            f"{row['group']:<11}{row['setting']:<21}{row['top1']:>7.3f}{row['epochs']:>8.1f}"
            f"{row['clips_per_s']:>9.0f}{row['gmacs']:>8.3f}{keys}"
        )
    print(
        f"single frame / chance: {figures['single_frame_over_chance']:.2f}x;  "
        f"shuffled - ordered: {figures['shuffled_minus_ordered']:+.3f}"
    )
    for axis, spread in figures["axis_spread"].items():
        print(f"{axis}: best - worst = {spread:+.3f}")
    if not args.quick:
        RESULTS.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")
        results_page.write(RESULTS.with_suffix(".md"), markdown(figures))
        print(f"wrote {RESULTS} and its .md")
    if args.json:
        emit_json(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
