"""Proxy training speed: the CPU settings ``nas search`` trains with, against their alternatives.

Trains candidates of the default proxy space (the X2D of ``nas search`` with
1, 1, 2, 1 blocks at a 48^2 base crop) for a fixed number of steps on the
default synthetic cache and reports training clips/s with each setting:

- memory format: ``channels_last_3d`` (the default) against contiguous NCDHW;
- batch size 16 (the default) against 32;
- threads: 2 (the default) against 1.

Each setting is trained on the same clips from the same initial weights;
the ratio is against the default measured in the same run.

    python -m benchmarks.bench_proxy [--quick] [--json] [--steps N]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .harness import emit_json, machine, parse_args

#: Candidates from the default search's path: the base, a step-3 and the chosen model.
POINTS = ("frames=1,stride=8", "frames=4,stride=8,width=1.4142", "frames=4,stride=8,crop=56,width=1.4142")
SETTINGS = {  # name: (channels_last, batch_size, threads)
    "default (channels_last_3d, batch 16, 2 threads)": (True, 16, 2),
    "contiguous NCDHW": (False, 16, 2),
    "batch 32": (True, 32, 2),
    "1 thread": (True, 16, 1),
}


def _options(parser) -> None:
    parser.add_argument("--steps", type=int, default=None, help="training steps per measurement (default 60, quick 15)")
    parser.add_argument(
        "--cache", default=None, help="clip cache (default: the embedded synthetic cache, built if needed)"
    )


def clips_per_second(
    cache, space, point, channels_last: bool, batch_size: int, threads: int, steps: int, seed: int
) -> float:
    from estimators.data.dataset import ClipDataset, ClipSampling
    from estimators.training import TrainSettings, build_seeded, train

    spec = space.clip_spec(point)
    train_set = ClipDataset(cache, "train", ClipSampling(spec.frames, spec.stride, spec.crop, "train"), seed=seed)

    def settings(number_of_steps: int) -> TrainSettings:
        return TrainSettings(
            epochs=number_of_steps * batch_size / len(train_set),
            batch_size=batch_size,
            optimizer="adamw",
            lr=5e-3,
            weight_decay=0.05,
            seed=seed,
            threads=threads,
            channels_last=channels_last,
        )

    train(build_seeded(space, point, seed), train_set, None, settings(3))  # warm-up: allocator and kernel choice
    return train(build_seeded(space, point, seed), train_set, None, settings(steps)).clips_per_second


def run(quick: bool, seed: int, steps: int | None, cache_path: str | None) -> dict:
    from estimators.data.cache import ClipCache
    from estimators.data.default import ensure_default_cache
    from nas.engine import proxy_defaults
    from spaces import get_space

    where = machine()  # before the settings change torch's thread count
    cache = ClipCache(cache_path or ensure_default_cache(workers=2))
    space = get_space("x3d", **proxy_defaults("x3d")["space"], num_classes=len(cache.classes))
    steps = steps or (15 if quick else 60)
    for split in ("train", "val"):  # read every clip once, so no setting pays for a cold page cache
        for position in cache.positions(split):
            cache.read(int(position), [0])
    rows = []
    for key in POINTS[1:2] if quick else POINTS:
        point = space.parse_point(key)
        row = {"point": point.key, "gmacs": round(space.complexity(point).macs / 1e9, 4), "clips_per_s": {}}
        for round_ in range(1 if quick else 2):  # settings interleaved, best of the rounds: load drifts cancel
            for name, (channels_last, batch, threads) in SETTINGS.items():
                rate = clips_per_second(cache, space, point, channels_last, batch, threads, steps, seed)
                row["clips_per_s"][name] = round(max(rate, row["clips_per_s"].get(name, 0.0)), 1)
                print(f"  {point.key:<58} {name:<48} {rate:7.1f} clips/s", file=sys.stderr, flush=True)
        default = row["clips_per_s"][next(iter(SETTINGS))]
        row["ratio_to_default"] = {name: round(value / default, 3) for name, value in row["clips_per_s"].items()}
        rows.append(row)
    return {"benchmark": "proxy", "quick": quick, "steps": steps, "rows": rows, "machine": where}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv, extra=_options)
    figures = run(args.quick, args.seed, args.steps, args.cache)
    names = list(SETTINGS)
    print(f"training clips/s over {figures['steps']} steps (ratio to the default in the same run)")
    for row in figures["rows"]:
        print(f"{row['point']}  ({row['gmacs']} GMACs)")
        for name in names:
            print(f"  {name:<48} {row['clips_per_s'][name]:8.1f}  {row['ratio_to_default'][name]:6.2f}x")
    if args.json:
        emit_json(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
