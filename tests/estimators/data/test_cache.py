"""The LMDB clip cache: codecs, resuming, growing, consistency, and clear errors."""

from __future__ import annotations

import json
import multiprocessing
import time

import numpy as np
import pytest

from estimators.data import cache as cache_module
from estimators.data import writer as writer_module
from estimators.data.cache import (
    META_KEY,
    ClipCache,
    close_environment,
    open_environment,
)
from estimators.data.errors import CacheError
from estimators.data.synthetic import SynthSettings, render_job
from estimators.data.writer import CacheWriter

SMOOTH = render_job(SynthSettings(classes=2, clips_per_class=3, frames=12, size=48, noise=0.0), 1, 0)


def _write(path, codec="raw", videos=3, **kwargs):
    with CacheWriter(path, codec=codec, fps=30, classes=["a", "b"], source_fingerprint="test", **kwargs) as writer:
        for i in range(videos):
            writer.add(f"v{i}", i % 2, "train", SMOOTH)
    return ClipCache(path)


@pytest.mark.parametrize("codec, tolerance", [("raw", 0.0), ("jpeg", 6.0), ("h264", 6.0)])
def test_codecs_round_trip_within_tolerance(tmp_path, codec, tolerance):
    cache = _write(tmp_path / codec, codec)
    frames = cache.read(1, [0, 7, 7, 11])
    assert frames.shape == (4, 48, 48, 3) and frames.dtype == np.uint8
    assert np.abs(frames.astype(int) - SMOOTH[[0, 7, 7, 11]]).mean() <= tolerance
    assert cache.verify() == [] and cache.meta["codec"] == codec


def test_encoded_sizes_order_raw_jpeg_h264(tmp_path):
    sizes = {codec: len(_write(tmp_path / codec, codec).codec.encode(SMOOTH, 30)) for codec in ("raw", "jpeg", "h264")}
    assert sizes["raw"] > 3 * sizes["jpeg"] > 3 * sizes["h264"]


def test_rerun_resumes_and_skips_stored_videos(tmp_path):
    path = tmp_path / "c"
    _write(path, videos=2)
    with CacheWriter(path, codec="raw", fps=30, classes=["a", "b"], source_fingerprint="test") as writer:
        assert writer.has("v0") and writer.has("v1") and not writer.has("v2")
        writer.add("v1", 1, "train", SMOOTH)  # already stored: ignored
        writer.add("v2", 0, "val", SMOOTH)
    cache = ClipCache(path)
    assert cache.index.ids == ["v0", "v1", "v2"] and cache.meta["splits"] == {"train": 2, "val": 1, "test": 0}


def test_incompatible_rerun_is_refused(tmp_path):
    path = tmp_path / "c"
    _write(path)
    with pytest.raises(CacheError, match="another codec"):
        CacheWriter(path, codec="jpeg", fps=30, classes=["a", "b"], source_fingerprint="test")


def test_map_grows_by_itself(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_module, "INITIAL_MAP_SIZE", 1 << 20)
    monkeypatch.setattr(writer_module, "INITIAL_MAP_SIZE", 1 << 20)
    cache = _write(tmp_path / "grow", videos=20)  # 20 x 83 kB > 1 MiB
    assert len(cache.index) == 20 and cache.verify() == []


def test_missing_cache_names_the_fix(tmp_path):
    with pytest.raises(CacheError, match="no clip cache at .*nas data synth"):
        ClipCache(tmp_path / "nothing")


def test_newer_format_is_refused(tmp_path):
    path = tmp_path / "c"
    _write(path)
    env = open_environment(path, write=True)
    with env.begin(write=True) as txn:
        meta = json.loads(bytes(txn.get(META_KEY)))
        txn.put(META_KEY, json.dumps({**meta, "format_version": 99}).encode())
    close_environment(path)
    with pytest.raises(CacheError, match="format version 99"):
        ClipCache(path)


def test_corrupt_record_names_its_key(tmp_path):
    path = tmp_path / "c"
    _write(path)
    env = open_environment(path, write=True)
    with env.begin(write=True) as txn:
        value = bytearray(txn.get(b"v/00000001"))
        value[-100:] = bytes(100)  # flip payload bytes
        txn.put(b"v/00000001", bytes(value))
        txn.put(b"v/00000002", b"\x05\x00\x00\x00garbage")
    close_environment(path)
    cache = ClipCache(path)
    assert cache.verify() == ["v/00000001", "v/00000002"]
    with pytest.raises(CacheError, match="record 'v/00000002'.*corrupt"):
        cache.read(2, [0])


def _append_forever(path, stop_after):
    with CacheWriter(path, codec="raw", fps=30, classes=["a", "b"], source_fingerprint="test") as writer:
        for i in range(3, 3 + stop_after):
            writer.add(f"v{i}", i % 2, "train", SMOOTH)
            writer.flush()


def _read_repeatedly(path, seconds, queue):
    deadline, reads, errors = time.time() + seconds, 0, []
    while time.time() < deadline:
        try:
            cache = ClipCache(path)
            for position in range(len(cache.index)):
                frames = cache.read(position, [0, 11], verify=True)
                assert np.array_equal(frames, SMOOTH[[0, 11]])
                reads += 1
        except Exception as error:  # noqa: BLE001 - report any failure to the parent
            errors.append(repr(error))
    queue.put((reads, errors))


def test_concurrent_readers_while_a_writer_appends(tmp_path):
    path = tmp_path / "shared"
    _write(path)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    readers = [context.Process(target=_read_repeatedly, args=(str(path), 4.0, queue)) for _ in range(2)]
    writer = context.Process(target=_append_forever, args=(str(path), 40))
    for process in (*readers, writer):
        process.start()
    results = [queue.get(timeout=60) for _ in readers]
    for process in (*readers, writer):
        process.join(timeout=60)
    assert writer.exitcode == 0
    assert all(not errors for _, errors in results), results
    assert all(reads > 0 for reads, _ in results)
    assert len(ClipCache(path).index) == 43
