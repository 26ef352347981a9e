"""What is in a clip cache: a summary for people and scripts, and a contact sheet PNG."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..files import write_atomically
from .cache import ClipCache
from .errors import CacheError


def summary(cache: ClipCache, *, verify: bool = False) -> dict[str, Any]:
    frames = np.asarray(cache.index.frames)
    meta = cache.meta
    result = {
        "path": str(cache.path),
        "format_version": meta["format_version"],
        "codec": meta["codec"],
        "videos": len(cache.index),
        "classes": meta["classes"],
        "class_counts": meta.get("class_counts"),
        "splits": meta["splits"],
        "fps": meta["fps"],
        "frame_size": meta.get("frame_size"),
        "frames_per_video": {"min": int(frames.min()), "max": int(frames.max()), "mean": round(float(frames.mean()), 1)}
        if len(frames)
        else None,
        "bytes_on_disk": _disk_bytes(cache.path),
        "source_fingerprint": meta["source_fingerprint"],
        "settings": meta.get("settings", {}),
        "skipped": meta.get("skipped", []),
        "flip_map": cache.flip_map,
    }
    if verify:
        result["corrupt_records"] = cache.verify()
    return result


def _disk_bytes(path: Path) -> int:
    return sum(f.stat().st_blocks * 512 for f in path.iterdir() if f.is_file())


def contact_sheet(
    cache: ClipCache, out: str | os.PathLike, *, columns: int = 8, classes: int = 12, split: str = "train"
) -> Path:
    """One row per class (its first video in ``split``): ``columns`` frames evenly spaced in time."""
    from PIL import Image, ImageDraw

    positions = cache.positions(split)
    if len(positions) == 0:
        positions = np.arange(len(cache.index))
    rows, names = [], []
    for label, name in enumerate(cache.classes[:classes]):
        chosen = next((p for p in positions if cache.label(int(p)) == label), None)
        if chosen is None:
            continue
        frames = cache.read(int(chosen), np.linspace(0, cache.num_frames(int(chosen)) - 1, columns).round().astype(int))
        rows.append(np.concatenate(list(frames), axis=1))
        names.append(f"{name} ({cache.index.ids[int(chosen)]})")
    if not rows:
        raise CacheError(f"clip cache {cache.path} has no videos to show")
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    label_height = 14
    sheet = Image.new("RGB", (width, sum(r.shape[0] + label_height for r in rows)), "white")
    draw = ImageDraw.Draw(sheet)
    top = 0
    for row, name in zip(rows, names):
        draw.text((2, top + 1), name, fill="black")
        sheet.paste(Image.fromarray(row), (0, top + label_height))
        top += row.shape[0] + label_height
    return write_atomically(out, lambda tmp: sheet.save(tmp, format="PNG"), what="contact sheet")
