"""The clip cache: an LMDB environment of encoded videos, a metadata record and an index.

Layout (format version :data:`FORMAT_VERSION`):

- ``__meta__``: JSON — format version, codec, classes, split counts, frame rate,
  frame size, source fingerprint, skipped videos, flip label map, settings.
- ``__index__``: JSON, columnar — record key, video id, label, split, frames,
  height, width per video, so a loader never scans the database.
- ``v/<8 digits>``: one record per video: a little-endian uint32 header length,
  a JSON header (id, label, split, shape, codec, CRC-32 of the payload), then
  the codec's payload.

Every write transaction appends records *and* rewrites index and metadata, so
each commit is a consistent cache: a reader (or a resumed build) never sees a
record that the index lacks or the reverse, and a killed build loses at most
the uncommitted batch.  Readers open the environment lazily, once per process
(py-lmdb refuses a second open of an environment in one process, and an
environment inherited through ``fork`` must not be reused).
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .codecs import get_codec
from .errors import CacheError, CacheFailure

FORMAT_VERSION = 1
META_KEY = b"__meta__"
INDEX_KEY = b"__index__"
RECORD_PREFIX = "v/"
SPLITS = ("train", "val", "test")
INITIAL_MAP_SIZE = 1 << 28  # 256 MiB; doubled whenever a write does not fit
MAX_READERS = 1024

_ENVIRONMENTS: dict[tuple[int, str], tuple[Any, bool]] = {}  # (pid, path) -> (environment, writable)


#: Free bytes a writable cache needs before LMDB maps its files: LMDB writes its lock file and meta pages through
#: memory maps of sparse files, so on a disk with no free blocks the process dies by SIGBUS instead of an error.
MIN_FREE_BYTES = 8 << 20


def _check_free_space(path: Path) -> None:
    from ..files import disk_full_note

    note = disk_full_note(path, needed=MIN_FREE_BYTES)
    if note:
        raise CacheFailure(f"cannot write clip cache {path}{note}")


def open_environment(path: str | os.PathLike, *, write: bool = False, map_size: int = INITIAL_MAP_SIZE):
    """The process's one environment for ``path``, opened lazily and reopened after a fork.

    py-lmdb refuses to open one environment twice in a process, so readers and
    a writer in the same process share it: a writable environment serves
    reads too, and a read-only one is reopened writable when a writer needs it.
    """
    import lmdb

    for stale in [k for k in _ENVIRONMENTS if k[0] != os.getpid()]:
        _ENVIRONMENTS.pop(stale)  # inherited through fork: never touch, never close
    key = (os.getpid(), str(Path(path).resolve()))
    entry = _ENVIRONMENTS.get(key)
    if entry is not None and (entry[1] or not write):
        return entry[0]
    if entry is not None:
        _ENVIRONMENTS.pop(key)[0].close()
    if write:
        _check_free_space(Path(path))
    data_file = Path(path) / "data.mdb"
    if data_file.is_file() and data_file.stat().st_size == 0:
        raise CacheError(
            f"the clip cache {path} is empty: {data_file} has 0 bytes (a build that died before its first "
            "write); delete the folder and build it again"
        )
    try:
        env = lmdb.open(
            str(path),
            readonly=not write,
            lock=True,
            readahead=False,
            max_readers=MAX_READERS,
            map_size=map_size,
            subdir=True,
            create=write,
            meminit=False,
            max_spare_txns=4,
        )
    except lmdb.Error as error:
        raise CacheError(
            f"cannot open clip cache {path}: {error}; rebuild it with 'nas data build' or 'nas data synth'"
        ) from None
    try:
        _check_not_truncated(env, Path(path))
    except CacheError:
        env.close()
        raise
    _ENVIRONMENTS[key] = (env, write)
    return env


def _check_not_truncated(env, path: Path) -> None:
    """Refuse a data file shorter than its last committed page.

    LMDB maps the file into memory; reading a page past a truncated end (a
    copy cut short, a full disk) kills the process with SIGBUS instead of
    raising, so the size is checked once, before any read.
    """
    needed = (env.info()["last_pgno"] + 1) * env.stat()["psize"]
    actual = (path / "data.mdb").stat().st_size
    if actual < needed:
        raise CacheError(
            f"clip cache {path} is truncated ({actual:,} of {needed:,} bytes: an interrupted copy or a full "
            "disk); copy it again or rebuild it with 'nas data build' or 'nas data synth'"
        )


def corrupt_cache_error(path: str | os.PathLike, error: Exception) -> CacheFailure:
    """LMDB's own error on a damaged file, as one line saying what to do."""
    return CacheFailure(f"clip cache {path} is corrupt ({error}); rebuild it with 'nas data build' or 'nas data synth'")


def _close_readers_before_fork() -> None:
    """Close this process's read-only environments before a fork (DataLoader workers, pools).

    A child must never use an environment opened by its parent, and py-lmdb
    refuses to open one that the parent still held; closed here, every
    process reopens its own on first use.  Writers are left alone.
    """
    for key in [k for k, (_, writable) in _ENVIRONMENTS.items() if k[0] == os.getpid() and not writable]:
        _ENVIRONMENTS.pop(key)[0].close()


os.register_at_fork(before=_close_readers_before_fork)


def close_environment(path: str | os.PathLike) -> None:
    """Close this process's environment for ``path`` (the next use reopens it)."""
    entry = _ENVIRONMENTS.pop((os.getpid(), str(Path(path).resolve())), None)
    if entry is not None:
        entry[0].close()


def record_key(position: int) -> str:
    return f"{RECORD_PREFIX}{position:08d}"


def pack_record(header: dict[str, Any], payload: bytes) -> bytes:
    header = {**header, "crc32": zlib.crc32(payload)}
    encoded = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<I", len(encoded)) + encoded + payload


def unpack_record(value: bytes | memoryview, key: str, cache: str) -> tuple[dict[str, Any], memoryview]:
    """Split a record into header and payload; a damaged header is a :class:`CacheError` naming the key."""
    view = memoryview(value)
    try:
        (length,) = struct.unpack_from("<I", view)
        header = json.loads(bytes(view[4 : 4 + length]))
        return header, view[4 + length :]
    except (struct.error, ValueError, UnicodeDecodeError):
        raise CacheFailure(
            f"record {key!r} of clip cache {cache} is corrupt (unreadable header); rebuild the cache"
        ) from None


@dataclass
class CacheIndex:
    """Columnar index of every stored video (the ``__index__`` record)."""

    keys: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    splits: list[str] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    heights: list[int] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.keys)

    def append(self, *, key: str, video_id: str, label: int, split: str, shape: tuple[int, int, int]) -> None:
        self.keys.append(key)
        self.ids.append(video_id)
        self.labels.append(label)
        self.splits.append(split)
        self.frames.append(shape[0])
        self.heights.append(shape[1])
        self.widths.append(shape[2])

    def to_bytes(self) -> bytes:
        return json.dumps(self.__dict__, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, value: bytes, cache: str) -> "CacheIndex":
        try:
            index = cls(**json.loads(bytes(value)))
        except (ValueError, TypeError):
            raise CacheFailure(f"the index of clip cache {cache} is corrupt; rebuild the cache") from None
        lengths = {len(column) for column in index.__dict__.values()}
        if len(lengths) != 1:
            raise CacheFailure(
                f"the index of clip cache {cache} is corrupt (columns differ in length); rebuild the cache"
            )
        return index


class ClipCache:
    """Read access to a clip cache: metadata, index, and frames of any stored video."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not (self.path / "data.mdb").is_file():
            raise CacheError(
                f"no clip cache at {self.path} (no data.mdb); build one with 'nas data synth --out {self.path}' "
                f"or 'nas data build --videos DIR --out {self.path}'"
            )
        import lmdb

        env = open_environment(self.path)
        try:
            with env.begin() as txn:
                meta_bytes, index_bytes = txn.get(META_KEY), txn.get(INDEX_KEY)
        except lmdb.Error as error:
            raise corrupt_cache_error(self.path, error) from None
        if meta_bytes is None or index_bytes is None:
            raise CacheError(f"{self.path} is not a finished clip cache (no metadata or index); rebuild it")
        try:
            self.meta: dict[str, Any] = json.loads(bytes(meta_bytes))
        except ValueError:
            raise CacheFailure(f"the metadata of clip cache {self.path} is corrupt; rebuild the cache") from None
        version = self.meta.get("format_version")
        if version != FORMAT_VERSION:
            raise CacheError(
                f"clip cache {self.path} has format version {version}, this toolkit reads version {FORMAT_VERSION}; "
                "upgrade the toolkit or rebuild the cache"
            )
        self.index = CacheIndex.from_bytes(index_bytes, str(self.path))
        self.codec = get_codec(self.meta["codec"])
        self._labels = np.asarray(self.index.labels, dtype=np.int64)
        self._frames = np.asarray(self.index.frames, dtype=np.int64)

    # -- metadata ----------------------------------------------------------------
    @property
    def classes(self) -> list[str]:
        return list(self.meta["classes"])

    @property
    def fps(self) -> float:
        return float(self.meta["fps"])

    @property
    def flip_map(self) -> list[int]:
        """Label of each class after a horizontal flip (identity for most classes)."""
        return list(self.meta.get("flip_map") or range(len(self.classes)))

    def positions(self, split: str) -> np.ndarray:
        """Index positions of the videos of one split, ordered by video id.

        Parallel ingestion stores videos in the order workers finish them; ordering
        by id makes every reader (and so every seeded training) independent of it.
        """
        if split not in SPLITS:
            raise CacheError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
        ids = self.index.ids
        selected = np.flatnonzero(np.asarray(self.index.splits) == split)
        return np.asarray(sorted(selected, key=lambda position: ids[position]), dtype=np.int64)

    def label(self, position: int) -> int:
        return int(self._labels[position])

    def num_frames(self, position: int) -> int:
        return int(self._frames[position])

    def shortest(self, split: str) -> int:
        positions = self.positions(split)
        return int(self._frames[positions].min()) if len(positions) else 0

    # -- frames ------------------------------------------------------------------
    def read(self, position: int, indices: np.ndarray | list[int], *, verify: bool = False) -> np.ndarray:
        """Frames ``indices`` of the video at ``position`` as uint8 ``(len(indices), H, W, 3)``."""
        import lmdb

        key = self.index.keys[position]
        shape = (self.index.frames[position], self.index.heights[position], self.index.widths[position])
        env = open_environment(self.path)
        try:
            return self._read(env, key, shape, indices, verify)
        except lmdb.Error as error:
            raise corrupt_cache_error(self.path, error) from None

    def _read(self, env, key: str, shape: tuple[int, int, int], indices, verify: bool) -> np.ndarray:
        with env.begin(buffers=True) as txn:
            value = txn.get(key.encode())
            if value is None:
                raise CacheFailure(
                    f"record {key!r} listed in the index of clip cache {self.path} is missing; rebuild the cache"
                )
            header, payload = unpack_record(value, key, str(self.path))
            if verify and zlib.crc32(payload) != header.get("crc32"):
                raise CacheFailure(
                    f"record {key!r} of clip cache {self.path} is corrupt (checksum mismatch); rebuild the cache"
                )
            try:
                return self.codec.decode(payload, shape, indices)
            except Exception as error:
                raise CacheFailure(
                    f"record {key!r} of clip cache {self.path} is corrupt ({error}); rebuild the cache"
                ) from None

    def verify(self) -> list[str]:
        """Keys whose payload fails its checksum or does not decode (reads every record once)."""
        bad = []
        for position, key in enumerate(self.index.keys):
            try:
                self.read(position, [0], verify=True)
            except CacheError:
                bad.append(key)
        return bad
