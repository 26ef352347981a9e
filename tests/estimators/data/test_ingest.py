"""Ingestion from real video files: the test encodes MP4s with PyAV, then ingests them."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from estimators.data.cache import ClipCache
from estimators.data.errors import IngestError
from estimators.data.ingest import IngestSettings, build_from_videos, read_folder
from estimators.data.synthetic import SynthSettings, render_job

SOURCE = SynthSettings(classes=2, clips_per_class=3, frames=20, size=48, noise=0.0)
CLASSES = ("abseiling", "juggling")


def write_mp4(path, frames, fps=30):
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"crf": "12"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.fixture(scope="module")
def kinetics(tmp_path_factory):
    """A Kinetics-style download: <youtube_id>_<start>_<end>.mp4 in class folders, a CSV, and two bad files."""
    root = tmp_path_factory.mktemp("kinetics")
    rows, sources = [], {}
    for label, name in enumerate(CLASSES):
        (root / "videos" / name).mkdir(parents=True)
        for index in range(3):
            youtube_id = f"yt{label}{index}abcde"
            stem = f"{youtube_id}_{index * 10:06d}_{index * 10 + 10:06d}"
            frames = render_job(SOURCE, label, index)
            write_mp4(root / "videos" / name / f"{stem}.mp4", frames)
            sources[stem] = frames
            rows.append([name, youtube_id, index * 10, index * 10 + 10, ["train", "validate", "test"][index], 0])
    good = (root / "videos" / CLASSES[0] / f"{rows[0][1]}_000000_000010.mp4").read_bytes()
    (root / "videos" / CLASSES[1] / "truncd_000000_000010.mp4").write_bytes(good[: len(good) // 3])
    (root / "videos" / CLASSES[1] / "empty0_000000_000010.mp4").write_bytes(b"")
    rows += [
        [CLASSES[1], "truncd", 0, 10, "train", 0],
        [CLASSES[1], "empty0", 0, 10, "train", 0],
        [CLASSES[0], "gone00", 0, 10, "val", 0],
    ]
    with open(root / "train.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["label", "youtube_id", "time_start", "time_end", "split", "is_cc"])
        writer.writerows(rows)
    return root, sources


def test_csv_ingestion_stores_good_videos_and_reports_bad_ones(kinetics, tmp_path):
    root, sources = kinetics
    report, _ = build_from_videos(
        root / "videos", tmp_path / "c", IngestSettings(short_side=48, workers=2), csv_path=root / "train.csv"
    )
    reasons = dict(report.skipped)
    assert report.stored == 6
    assert reasons["truncd_000000_000010"].startswith(("truncated", "unreadable"))
    assert reasons["empty0_000000_000010"] == "empty file (0 bytes)"
    assert reasons["gone00_000000_000010"] == "missing file"
    cache = ClipCache(tmp_path / "c")
    assert cache.classes == list(CLASSES) and cache.meta["splits"] == {"train": 2, "val": 2, "test": 2}
    assert {s["video"] for s in cache.meta["skipped"]} == set(reasons)
    for position, stem in enumerate(cache.index.ids):
        stored = cache.read(position, np.arange(cache.num_frames(position)))
        assert stored.shape == sources[stem].shape
        assert np.abs(stored.astype(int) - sources[stem]).mean() < 4.0  # H.264 at CRF 12, yuv420


def test_folder_ingestion_and_rerun(kinetics, tmp_path):
    root, _ = kinetics
    settings = IngestSettings(fps=15, short_side=32, codec="jpeg")
    report, _ = build_from_videos(root / "videos", tmp_path / "c", settings)
    assert report.stored == 6 and len(report.skipped) == 2
    cache = ClipCache(tmp_path / "c")
    assert cache.num_frames(0) == 10 and cache.read(0, [0]).shape == (1, 32, 32, 3)
    again, _ = build_from_videos(root / "videos", tmp_path / "c", settings)
    assert again.stored == 0 and again.already == 8


def test_subsets_are_first_class(kinetics, tmp_path):
    root, _ = kinetics
    report, writer = build_from_videos(
        root / "videos",
        tmp_path / "c",
        IngestSettings(short_side=32, classes=1, per_class=1),
        csv_path=root / "train.csv",
    )
    # Class 0, the first video (by id) of each split: train yt00, val gone00 (listed, but missing), test yt02.
    wanted = {f"yt0{index}abcde_{index * 10:06d}_{index * 10 + 10:06d}" for index in (0, 2)}
    assert report.stored == 2 and set(writer.index.ids) == wanted and writer.index.labels == [0, 0]
    assert report.skipped == [("gone00_000000_000010", "missing file")]


def test_folder_layout_with_split_folders(tmp_path):
    for split, name in (("train", "a"), ("validate", "b")):
        (tmp_path / split / name).mkdir(parents=True)
        (tmp_path / split / name / "x.mp4").write_bytes(b"")
    items = {item.label: item.split for item in read_folder(tmp_path)}
    assert items == {"a": "train", "b": "val"}


def test_no_videos_is_a_clear_error(tmp_path):
    with pytest.raises(IngestError, match="no videos found"):
        build_from_videos(tmp_path, tmp_path / "c", IngestSettings())


@pytest.mark.slow
def test_a_worker_pool_that_dies_is_one_line_naming_the_likely_causes(tmp_path):
    """A script without a main guard that builds a cache in worker processes: the spawned workers import the script
    and die; the build says why in one line (CacheFailure) instead of a BrokenProcessPool traceback."""
    import subprocess
    import sys

    script = tmp_path / "unguarded.py"
    script.write_text(
        "from estimators.data.errors import CacheFailure\n"
        "from estimators.data.ingest import build_synthetic\n"
        "from estimators.data.synthetic import SynthSettings\n"
        "try:\n"
        f"    build_synthetic({str(tmp_path / 'cache')!r}, "
        "SynthSettings(classes=2, clips_per_class=4, frames=8, size=16),"
        " workers=2)\n"
        "except CacheFailure as error:\n"
        "    print('CacheFailure:', error)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[3],
    )
    line = [row for row in done.stdout.splitlines() if row.startswith("CacheFailure:")]
    assert len(line) == 1, (done.stdout[-2000:], done.stderr[-2000:])
    assert 'if __name__ == "__main__":' in line[0] and "run it again to resume" in line[0]
