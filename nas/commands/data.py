"""``nas data build | synth | inspect``: make and look at clip caches."""

from __future__ import annotations

import argparse
from pathlib import Path

from spaces.errors import NasError, RunFailure

from ..values import (
    COUNT,
    MAKE_CACHE,
    SEED,
    Real,
    Whole,
    input_file,
    input_folder,
    output_file,
    output_folder,
)
from .common import add_actions, emit_json, format_count

#: How many skipped videos are listed by name before the count alone.
SKIPPED_SHOWN = 10


def register(commands: argparse._SubParsersAction) -> None:
    actions = add_actions(commands, "data", "build, synthesise and inspect LMDB clip caches")

    build = actions.add_parser("build", help="ingest a Kinetics-style video folder (and CSV) into a clip cache")
    build.add_argument(
        "--videos",
        required=True,
        type=input_folder("videos"),
        metavar="DIR",
        help="folder of videos (DIR/<class>/<video> without --csv)",
    )
    build.add_argument(
        "--csv",
        type=input_file("train.csv"),
        metavar="FILE",
        help="Kinetics annotations: label,youtube_id,time_start,time_end,split[,is_cc]",
    )
    build.add_argument(
        "--out",
        required=True,
        type=output_folder("cache"),
        metavar="CACHE",
        help="cache folder (created; a rerun resumes it)",
    )
    build.add_argument(
        "--fps",
        type=Real(0, 240, low_open=True),
        default=30.0,
        help="frame rate every video is resampled to (default 30)",
    )
    build.add_argument(
        "--short-side", type=Whole(8, 4096), default=128, help="short side in pixels after resizing (default 128)"
    )
    _add_codec_and_workers(build)
    build.add_argument("--classes", type=COUNT, metavar="K", help="keep the first K classes (sorted by name)")
    build.add_argument("--per-class", type=COUNT, metavar="N", help="keep at most N videos per class and split")
    build.add_argument(
        "--allow-skipped",
        action="store_true",
        help="exit 0 even if some videos could not be decoded (they are left out and listed)",
    )
    build.add_argument(
        "--retry-skipped",
        action="store_true",
        help="try again the videos an earlier run of this build skipped (after replacing the files)",
    )
    build.set_defaults(handler=run_build)

    synth = actions.add_parser(
        "synth", help="write the embedded synthetic action clips (or, with --images, images) as a clip cache"
    )
    synth.add_argument(
        "--out",
        required=True,
        type=output_folder("synth-cache"),
        metavar="CACHE",
        help="cache folder (created; a rerun resumes it)",
    )
    clips, images = _synth_defaults()
    synth.add_argument(
        "--images",
        action="store_true",
        help="the synthetic images of the x2d-image space (one-frame clips), as --data synth-image builds them",
    )
    synth.add_argument(
        "--kind",
        choices=("scenes", "motion"),
        default=None,
        help="scenes: the default, where one frame shows the scene and each axis adds (as --data synth); "
        "motion: the class is only the motion (as --data synth-motion)",
    )
    synth.add_argument(
        "--classes",
        type=Whole(2, 12),
        metavar="K",
        help=(
            f"action classes, 2-12 (default {clips.classes}); "
            f"image classes with --images, 2-10 (default {images.classes})"
        ),
    )
    synth.add_argument(
        "--clips-per-class",
        type=Whole(3, 100_000),
        metavar="N",
        help=f"clips (with --images: images) per class (default {clips.clips_per_class}: 70 train, 100 "
        f"validation, 15 test; motion: 100, split 70/15/15; {images.images_per_class} images)",
    )
    synth.add_argument(
        "--frames",
        type=Whole(8, 4096),
        metavar="T",
        help=f"frames per clip (default {clips.frames}; not with --images)",
    )
    synth.add_argument("--size", type=Whole(16, 1024), metavar="S", help=f"frame side in pixels (default {clips.size})")
    synth.add_argument("--seed", type=SEED, metavar="SEED", help="generator seed (default 0)")
    _add_codec_and_workers(synth)
    synth.set_defaults(handler=run_synth)

    inspect = actions.add_parser("inspect", help="metadata, class counts, sizes, and a contact sheet PNG")
    inspect.add_argument("cache", type=input_folder("cache", MAKE_CACHE), metavar="CACHE", help="a clip cache folder")
    inspect.add_argument("--json", action="store_true", help="print JSON only")
    inspect.add_argument(
        "--sheet",
        type=output_file("sheet.png"),
        metavar="PNG",
        help="write a contact sheet: one sample clip per class, frames in time",
    )
    inspect.add_argument(
        "--verify", action="store_true", help="also check every record's checksum (reads the whole cache)"
    )
    inspect.add_argument(
        "--clip", metavar="FRAMESxSTRIDE", help="check that every split's videos are long enough, e.g. 16x5"
    )
    inspect.set_defaults(handler=run_inspect)


def _synth_defaults():
    from estimators.data.synthetic import SynthSettings
    from estimators.data.synthetic_images import ImageSynthSettings

    return SynthSettings(), ImageSynthSettings()


def synth_settings_of(args: argparse.Namespace):
    """The synthetic clips' or images' settings the flags ask for; a flag left out keeps its default."""
    from estimators.data.synthetic import MotionSynthSettings, SynthSettings
    from estimators.data.synthetic_images import ImageSynthSettings

    given = {"classes": args.classes, "size": args.size, "seed": args.seed}
    if args.images:
        if args.frames is not None:
            raise NasError(f"--frames {args.frames}: images are one frame; leave out --frames or --images")
        if getattr(args, "kind", None) is not None:
            raise NasError(f"--kind {args.kind}: images have no kind; leave out --kind or --images")
        given["images_per_class"] = args.clips_per_class
        kind = ImageSynthSettings
    else:
        given.update(clips_per_class=args.clips_per_class, frames=args.frames)
        kind = MotionSynthSettings if getattr(args, "kind", None) == "motion" else SynthSettings
    return kind(**{key: value for key, value in given.items() if value is not None})


def _add_codec_and_workers(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--codec",
        choices=("raw", "jpeg", "h264"),
        default="raw",
        help="raw uint8 (fastest reads), jpeg (about 6x smaller), h264 (smallest, slowest reads)",
    )
    parser.add_argument("--workers", type=Whole(1, 256), default=1, metavar="W", help="decoding processes (default 1)")


def _print_report(report, writer, out, *, allow_skipped: bool = True) -> int:
    stored_total = len(writer.index)
    print(
        f"stored {report.stored} new videos in {out} ({report.already} were already done; {stored_total} in the cache)"
    )
    if report.skipped:
        print(f"skipped {len(report.skipped)} videos:")
        for video_id, reason in report.skipped[:SKIPPED_SHOWN]:
            print(f"  {video_id}: {reason}")
        if len(report.skipped) > SKIPPED_SHOWN:
            print(
                f"  ... and {len(report.skipped) - SKIPPED_SHOWN} more (nas data inspect {out} --json lists them all)"
            )
    else:
        print("skipped 0 videos")
    if stored_total == 0:
        raise NasError(f"no video could be stored in {out}; check the files listed above")
    skipped = len(writer.skipped)
    if skipped and not allow_skipped:
        raise NasError(
            f"{skipped} videos could not be decoded and were left out (listed above and by 'nas data inspect "
            f"{out}'); the cache holds the other {stored_total} and is usable: pass --allow-skipped to accept "
            "it, or replace those files and re-run with --retry-skipped"
        )
    return 0


def run_build(args: argparse.Namespace) -> int:
    from estimators.data.ingest import IngestSettings, build_from_videos

    settings = IngestSettings(
        fps=args.fps,
        short_side=args.short_side,
        codec=args.codec,
        classes=args.classes,
        per_class=args.per_class,
        workers=args.workers,
    )
    existed = Path(args.out).exists()
    try:
        report, writer = build_from_videos(
            args.videos, args.out, settings, csv_path=args.csv, retry_skipped=args.retry_skipped
        )
        return _print_report(report, writer, args.out, allow_skipped=args.allow_skipped)
    except NasError:
        if not existed:
            remove_empty_cache(Path(args.out))
        raise


def remove_empty_cache(path: Path) -> None:
    """A cache folder this command created but stored nothing in is removed: nothing half-made stays behind."""
    from estimators.data.cache import ClipCache, close_environment

    close_environment(path)
    try:
        empty = len(ClipCache(path).index) == 0
    except NasError:
        empty = True  # not even metadata was committed
    finally:
        close_environment(path)
    if empty and path.is_dir() and set(p.name for p in path.iterdir()) <= {"data.mdb", "lock.mdb"}:
        import shutil

        shutil.rmtree(path, ignore_errors=True)


def run_synth(args: argparse.Namespace) -> int:
    from estimators.data.ingest import build_synthetic

    if args.workers < 1:
        raise NasError(f"--workers must be at least 1, got {args.workers}")
    settings = synth_settings_of(args)
    existed = Path(args.out).exists()
    try:
        report, writer = build_synthetic(args.out, settings, codec=args.codec, workers=args.workers)
    except NasError:
        if not existed:
            remove_empty_cache(Path(args.out))
        raise
    return _print_report(report, writer, args.out)


def run_inspect(args: argparse.Namespace) -> int:
    from estimators.data.cache import ClipCache
    from estimators.data.inspect import contact_sheet, summary

    cache = ClipCache(args.cache)
    if args.clip:
        _check_clip(cache, args.clip)
    info = summary(cache, verify=args.verify)
    if args.sheet:
        info["sheet"] = str(contact_sheet(cache, args.sheet))
    if args.json:
        emit_json(info)
    else:
        _print_summary(info)
    if info.get("corrupt_records"):
        raise RunFailure(
            f"{len(info['corrupt_records'])} corrupt records in {args.cache} "
            f"(first: {info['corrupt_records'][0]}); rebuild the cache"
        )
    return 0


def _check_clip(cache, text: str) -> None:
    """Raise the loader's own error if some split cannot give clips of FRAMESxSTRIDE."""
    from estimators.data.dataset import ClipDataset, ClipSampling

    frames, sep, stride = text.lower().partition("x")
    if not sep or not frames.isdigit() or not stride.isdigit():
        raise NasError(f"--clip {text!r} is not FRAMESxSTRIDE (example: 16x5)")
    for split, count in cache.meta["splits"].items():
        if count:
            ClipDataset(cache, split, ClipSampling(int(frames), int(stride), 8, "val"))


def _print_summary(info: dict) -> None:
    print(f"clip cache {info['path']} (format {info['format_version']}, codec {info['codec']}, {info['fps']:g} fps)")
    size = info["frame_size"]
    frames = info["frames_per_video"] or {}
    print(
        f"videos {info['videos']}: "
        + ", ".join(f"{k} {v}" for k, v in info["splits"].items())
        + (
            f"; frames per video {frames.get('min')}-{frames.get('max')}; "
            f"frame size {'x'.join(map(str, size)) if size else 'varies'}"
        )
    )
    print(f"on disk {format_count(info['bytes_on_disk'], 'B')}; source {info['source_fingerprint']}")
    counts = info["class_counts"] or []
    print("classes: " + ", ".join(f"{name} ({count})" for name, count in zip(info["classes"], counts)))
    flipped = [f"{info['classes'][i]}<->{info['classes'][j]}" for i, j in enumerate(info["flip_map"]) if i < j]
    if flipped:
        print("a horizontal flip relabels: " + ", ".join(flipped))
    print(
        f"skipped {len(info['skipped'])} videos"
        + "".join(f"\n  {s['video']}: {s['reason']}" for s in info["skipped"][:SKIPPED_SHOWN])
    )
    if "corrupt_records" in info:
        print(f"checksums: {len(info['corrupt_records'])} corrupt records")
    if "sheet" in info:
        print(f"contact sheet written to {info['sheet']}")
