"""Writing a clip cache: batched, resumable, growing its own map.

Records are buffered and committed in batches; each commit appends the
records and rewrites the index and metadata in the same LMDB transaction, so
a build killed at any moment leaves a consistent, resumable cache.  When a
batch does not fit, the map size is doubled and the batch retried.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spaces._version import __version__

from ..files import disk_full_note
from .cache import (
    FORMAT_VERSION,
    INDEX_KEY,
    INITIAL_MAP_SIZE,
    META_KEY,
    SPLITS,
    CacheIndex,
    close_environment,
    open_environment,
    pack_record,
    record_key,
)
from .codecs import get_codec
from .errors import CacheError, CacheFailure

#: Commit after this many buffered bytes (or records), whichever comes first.
BATCH_BYTES = 64 << 20
BATCH_RECORDS = 256


class CacheWriter:
    """Appends videos to a new or partly built cache; ``with CacheWriter(...) as w: w.add(...)``."""

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        codec: str,
        fps: float,
        classes: Sequence[str],
        source_fingerprint: str,
        settings: dict[str, Any] | None = None,
        flip_map: Sequence[int] | None = None,
        retry_skipped: bool = False,
    ) -> None:
        self.path = Path(path)
        self.codec = get_codec(codec)
        self._meta: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "codec": codec,
            "classes": list(classes),
            "fps": float(fps),
            "source_fingerprint": source_fingerprint,
            "settings": dict(settings or {}),
            "flip_map": list(flip_map) if flip_map is not None else list(range(len(classes))),
            "skipped": [],
            "toolkit_version": __version__,
        }
        self._pending: list[tuple[str, int, str, tuple[int, int, int], bytes]] = []
        self._pending_bytes = 0
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CacheError(f"cannot create clip cache folder {self.path}: {error.strerror}") from None
        self._env = open_environment(self.path, write=True, map_size=self._current_map_size())
        self.index, existing = self._load_existing()
        if existing is not None:
            self._check_compatible(existing)
            self._meta["skipped"] = (
                [] if retry_skipped else existing.get("skipped", [])
            )  # retried: listed again if still bad
        self._stored = set(self.index.ids)
        self._skipped = {entry["video"] for entry in self._meta["skipped"]}

    # -- resuming ------------------------------------------------------------------
    def _current_map_size(self) -> int:
        data = self.path / "data.mdb"
        return max(INITIAL_MAP_SIZE, 2 * data.stat().st_size) if data.exists() else INITIAL_MAP_SIZE

    def _load_existing(self) -> tuple[CacheIndex, dict[str, Any] | None]:
        with self._env.begin() as txn:
            meta, index = txn.get(META_KEY), txn.get(INDEX_KEY)
        if meta is None:
            return CacheIndex(), None
        return CacheIndex.from_bytes(index, str(self.path)), json.loads(bytes(meta))

    def _check_compatible(self, existing: dict[str, Any]) -> None:
        if existing.get("format_version") != FORMAT_VERSION:
            raise CacheError(
                f"{self.path} holds a cache of format version {existing.get('format_version')}; choose another --out"
            )
        old, new = existing.get("settings") or {}, self._meta["settings"]
        settings = [
            f"{k}: {old.get(k)!r} there, {new.get(k)!r} now"
            for k in sorted(set(old) | set(new))
            if old.get(k) != new.get(k)
        ]
        differs = [k for k in ("codec", "fps", "classes", "source_fingerprint") if existing.get(k) != self._meta[k]]
        if differs:
            key = differs[0]
            what = (
                f"other settings ({'; '.join(settings)})"
                if settings
                else f"another {key} ({existing.get(key)!r} there, {self._meta[key]!r} now)"
            )
            raise CacheError(
                f"{self.path} holds a cache built with {what}; choose another --out, or delete it to rebuild"
            )

    def has(self, video_id: str) -> bool:
        """Stored already, or skipped already (a resumed build does not retry known-bad videos)."""
        return video_id in self._stored or video_id in self._skipped

    # -- adding --------------------------------------------------------------------
    def add(
        self,
        video_id: str,
        label: int,
        split: str,
        frames: np.ndarray | None = None,
        *,
        encoded: bytes | None = None,
        shape: tuple[int, int, int] | None = None,
    ) -> None:
        """Buffer one video: raw frames to encode here, or an already-encoded payload and its shape."""
        if split not in SPLITS:
            raise CacheError(f"video {video_id!r}: unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        if not 0 <= label < len(self._meta["classes"]):
            raise CacheError(f"video {video_id!r}: label {label} outside the {len(self._meta['classes'])} classes")
        if encoded is None:
            if (
                frames is None
                or frames.ndim != 4
                or frames.shape[-1] != 3
                or frames.dtype != np.uint8
                or len(frames) == 0
            ):
                raise CacheError(f"video {video_id!r}: expected uint8 frames of shape (T, H, W, 3)")
            encoded, shape = self.codec.encode(frames, self._meta["fps"]), frames.shape[:3]
        if video_id in self._stored:
            return
        self._stored.add(video_id)
        self._pending.append((video_id, label, split, tuple(shape), encoded))
        self._pending_bytes += len(encoded)
        if self._pending_bytes >= BATCH_BYTES or len(self._pending) >= BATCH_RECORDS:
            self.flush()

    @property
    def skipped(self) -> list[dict[str, str]]:
        """Every video this cache left out, with its reason (earlier runs of the build included)."""
        return list(self._meta["skipped"])

    def skip(self, video_id: str, reason: str) -> None:
        """Record a video that could not be stored, with the reason (listed in the metadata)."""
        if video_id not in self._skipped:
            self._skipped.add(video_id)
            self._meta["skipped"].append({"video": video_id, "reason": reason})

    # -- committing ----------------------------------------------------------------
    def _meta_record(self, index: CacheIndex) -> bytes:
        counts = {split: 0 for split in SPLITS}
        class_counts = [0] * len(self._meta["classes"])
        for split, label in zip(index.splits, index.labels):
            counts[split] += 1
            class_counts[label] += 1
        sizes = sorted({(h, w) for h, w in zip(index.heights, index.widths)})
        meta = {
            **self._meta,
            "splits": counts,
            "class_counts": class_counts,
            "videos": len(index),
            "frame_size": list(sizes[0]) if len(sizes) == 1 else None,
            "frame_sizes": len(sizes),
            "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        return json.dumps(meta).encode()

    def flush(self) -> None:
        """Commit buffered records with the index and metadata; grow the map when full."""
        import lmdb

        while True:
            index = CacheIndex(**{k: list(v) for k, v in self.index.__dict__.items()})
            try:
                with self._env.begin(write=True) as txn:
                    for video_id, label, split, shape, payload in self._pending:
                        key = record_key(len(index))
                        header = {
                            "id": video_id,
                            "label": label,
                            "split": split,
                            "shape": list(shape),
                            "codec": self.codec.name,
                        }
                        txn.put(key.encode(), pack_record(header, payload))
                        index.append(key=key, video_id=video_id, label=label, split=split, shape=shape)
                    txn.put(INDEX_KEY, index.to_bytes())
                    txn.put(META_KEY, self._meta_record(index))
            except lmdb.MapFullError:
                self._env.set_mapsize(self._env.info()["map_size"] * 2)
                continue
            except lmdb.Error as error:
                note = disk_full_note(self.path, needed=max(1 << 20, 2 * self._pending_bytes))
                raise CacheFailure(
                    f"cannot write clip cache {self.path}: {error}"
                    f"{note or '; check the disk and its permissions, then re-run to resume'}"
                ) from None
            self.index = index
            self._pending.clear()
            self._pending_bytes = 0
            return

    def close(self) -> None:
        self.flush()
        close_environment(self.path)

    def __enter__(self) -> "CacheWriter":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None or issubclass(kind, KeyboardInterrupt):
            self.flush()  # keep what was finished, even on Ctrl-C
        close_environment(self.path)
