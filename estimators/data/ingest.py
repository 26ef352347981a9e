"""Building caches: Kinetics-style annotations or class folders, and the synthetic default.

Kinetics CSVs have the columns ``label,youtube_id,time_start,time_end,split[,is_cc]``
(split ``train``, ``val``/``validate`` or ``test``); the public downloaders save
each clip as ``<youtube_id>_<start:06d>_<end:06d>.mp4``, in one folder or in
per-class / per-split subfolders, all of which are found.  Without a CSV, the
folder tree ``DIR/<class>/<video>`` (optionally ``DIR/<split>/<class>/<video>``)
is read, and videos without a split folder are split 80/10/10 by a hash of
their name, so the split never changes when videos are added.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import IngestError
from .generators import generator_of
from .pipeline import Job, PipelineReport, run_pipeline
from .synthetic import SynthSettings, clip_list
from .writer import CacheWriter

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .synthetic_images import ImageSynthSettings

VIDEO_SUFFIXES = {".mp4", ".webm", ".mkv", ".avi", ".mov", ".m4v"}
SPLIT_NAMES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "validate": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
}
CSV_COLUMNS = ("label", "youtube_id", "time_start", "time_end", "split")


@dataclass(frozen=True)
class VideoItem:
    video_id: str
    label: str
    split: str
    path: Path | None  # None: listed in the annotations but not found on disk


def _video_files(root: Path) -> list[Path]:
    """Every video file under ``root`` (one walk, so a large tree is read once), sorted."""
    return sorted(
        Path(folder, name)
        for folder, _, names in os.walk(root)
        for name in names
        if Path(name).suffix.lower() in VIDEO_SUFFIXES
    )


def _index_files(root: Path) -> dict[str, Path]:
    """Video files by stem: Kinetics names are unique, whatever folders they sit in."""
    found: dict[str, Path] = {}
    for path in _video_files(root):
        found.setdefault(path.stem, path)
    return found


def read_csv_annotations(csv_path: str | os.PathLike, videos: str | os.PathLike) -> list[VideoItem]:
    csv_path, videos = Path(csv_path), Path(videos)
    if not csv_path.is_file():
        raise IngestError(f"annotation file {csv_path} does not exist")
    files = _index_files(videos)
    try:
        with csv_path.open(newline="", encoding="utf-8") as handle:
            return _csv_items(csv_path, csv.DictReader(handle), files)
    except UnicodeDecodeError as error:
        raise IngestError(
            f"{csv_path} is not UTF-8 text (byte {error.start}); save the annotations as UTF-8 CSV"
        ) from None
    except csv.Error as error:
        raise IngestError(f"{csv_path} is not a readable CSV ({error}); check its quoting") from None
    except OSError as error:
        raise IngestError(f"cannot read {csv_path}: {error.strerror or error}") from None


def _csv_items(csv_path: Path, reader: csv.DictReader, files: dict[str, Path]) -> list[VideoItem]:
    items = []
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise IngestError(
            f"{csv_path} is not a Kinetics-style CSV: column {missing[0]!r} missing (need {','.join(CSV_COLUMNS)})"
        )
    for line, row in enumerate(reader, start=2):
        if any(row.get(c) is None for c in CSV_COLUMNS):
            raise IngestError(
                f"{csv_path}:{line}: too few fields ({sum(v is not None for v in row.values())}); "
                f"each row needs {','.join(CSV_COLUMNS)}"
            )
        split = SPLIT_NAMES.get(row["split"].strip().lower())
        if split is None:
            raise IngestError(f"{csv_path}:{line}: unknown split {row['split']!r} (train, val, validate or test)")
        try:
            stem = f"{row['youtube_id']}_{int(float(row['time_start'])):06d}_{int(float(row['time_end'])):06d}"
        except (ValueError, OverflowError):
            raise IngestError(f"{csv_path}:{line}: time_start/time_end must be finite numbers") from None
        items.append(VideoItem(stem, row["label"].strip(), split, files.get(stem)))
    return items


def _hash_split(name: str) -> str:
    bucket = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % 10
    return "val" if bucket == 8 else "test" if bucket == 9 else "train"


def read_folder(videos: str | os.PathLike) -> list[VideoItem]:
    root = Path(videos)
    items = []
    for path in _video_files(root):
        parts = path.relative_to(root).parts
        if len(parts) < 2:
            continue  # a video directly in DIR has no class folder
        split = SPLIT_NAMES.get(parts[0].lower()) if len(parts) >= 3 else None
        label = parts[-2]
        video_id = "/".join(parts[-2:])
        items.append(VideoItem(video_id, label, split or _hash_split(video_id), path))
    return items


def select_subset(items: list[VideoItem], classes: int | None, per_class: int | None) -> list[VideoItem]:
    """The first ``classes`` class names (sorted) and at most ``per_class`` videos per class and split."""
    names = sorted({item.label for item in items})
    keep = set(names[:classes] if classes else names)
    taken: dict[tuple[str, str], int] = defaultdict(int)
    chosen = []
    for item in sorted(items, key=lambda i: (i.label, i.split, i.video_id)):
        if item.label not in keep or (per_class and taken[item.label, item.split] >= per_class):
            continue
        taken[item.label, item.split] += 1
        chosen.append(item)
    return chosen


def _fingerprint(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class IngestSettings:
    fps: float = 30.0
    short_side: int = 128
    codec: str = "raw"
    classes: int | None = None
    per_class: int | None = None
    workers: int = 1

    def __post_init__(self) -> None:
        checks = {
            "fps": self.fps > 0,
            "short_side": 8 <= self.short_side <= 4096,
            "workers": self.workers >= 1,
            "classes": self.classes is None or self.classes >= 1,
            "per_class": self.per_class is None or self.per_class >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise IngestError(f"--{name.replace('_', '-')} = {getattr(self, name)!r} is out of range")


def build_from_videos(
    videos: str | os.PathLike,
    out: str | os.PathLike,
    settings: IngestSettings,
    csv_path: str | os.PathLike | None = None,
    *,
    retry_skipped: bool = False,
) -> tuple[PipelineReport, CacheWriter]:
    videos = Path(videos)
    if not videos.is_dir():
        raise IngestError(f"video folder {videos} does not exist")
    items = read_csv_annotations(csv_path, videos) if csv_path else read_folder(videos)
    items = select_subset(items, settings.classes, settings.per_class)
    if not items:
        raise IngestError(
            f"no videos found in {videos}"
            + (f" for the annotations in {csv_path}" if csv_path else " (expected DIR/<class>/<video>)")
        )
    classes = sorted({item.label for item in items})
    label_of = {name: i for i, name in enumerate(classes)}
    jobs = [
        Job(
            item.video_id,
            label_of[item.label],
            item.split,
            "file",
            {
                "path": str(item.path) if item.path else str(videos / f"{item.video_id}.mp4"),
                "fps": settings.fps,
                "short_side": settings.short_side,
            },
        )
        for item in items
    ]
    decode_settings = {
        "fps": settings.fps,
        "short_side": settings.short_side,
        "codec": settings.codec,
        "source": "videos",
    }
    fingerprint = _fingerprint({"videos": [(i.video_id, i.label, i.split) for i in items], **decode_settings})
    writer = CacheWriter(
        out,
        codec=settings.codec,
        fps=settings.fps,
        classes=classes,
        source_fingerprint=fingerprint,
        settings=decode_settings,
        retry_skipped=retry_skipped,
    )
    with writer:
        report = run_pipeline(
            writer,
            jobs,
            codec=settings.codec,
            fps=settings.fps,
            workers=settings.workers,
            description="decoding videos",
        )
    return report, writer


def build_synthetic(
    out: str | os.PathLike, settings: "SynthSettings | ImageSynthSettings", *, codec: str = "raw", workers: int = 1
) -> tuple[PipelineReport, CacheWriter]:
    """Write a synthetic dataset (action clips, or images as one-frame clips) as a clip cache."""
    source = generator_of(settings).name
    jobs = [
        Job(video_id, label, split, source, {"settings": asdict(settings), "index": index})
        for video_id, label, split, index in clip_list(settings)
    ]
    writer = CacheWriter(
        out,
        codec=codec,
        fps=settings.fps,
        classes=settings.class_names,
        source_fingerprint=settings.fingerprint(),
        settings={"source": "synthetic", "codec": codec, **asdict(settings)},
        flip_map=settings.flip_map(),
    )
    with writer:
        report = run_pipeline(
            writer, jobs, codec=codec, fps=settings.fps, workers=workers, description="rendering clips"
        )
    return report, writer
