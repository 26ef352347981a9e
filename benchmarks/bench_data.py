"""How fast clips come out of the cache, against decoding MP4 with PyAV and an in-memory copy.

In one run, on the same synthetic videos (64 frames at 128^2, 16-frame clips
at stride 2): clips per second for

- ``memory``: slicing the same decoded frames held in RAM (the ceiling);
- ``cache read``: ``ClipCache.read`` of the clip's frames, one row per encoding;
- ``loader``: ``ClipDataset`` as training uses it (random offset, scale jitter,
  crop, flip), in one process and through a 2-worker DataLoader (batch 16);
- ``pyav``: opening each clip's MP4 file and decoding its frames with PyAV,
  the way SlowFast and pytorchvideo read Kinetics.

Then the proxy trainer's own consumption rate (the small X3D of
``bench_synth_axes`` at 8x4 @ 48^2 on 64^2 clips) against the loader at that
setting: the loader must be at least 5x faster so training never waits.

    python -m benchmarks.bench_data [--quick] [--json]
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .harness import emit_json, machine, parse_args

CODECS = ("raw", "jpeg", "h264")
CLIP_FRAMES, CLIP_STRIDE, CLIP_CROP = 16, 2, 112


def _rate(function, items: int, min_seconds: float) -> float:
    """Items per second of ``function`` (which processes ``items``), repeated for at least ``min_seconds``."""
    function()  # warm-up
    start, done = time.perf_counter(), 0
    while True:
        function()
        done += items
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return done / elapsed


def _write_mp4s(folder: Path, videos: list[np.ndarray]) -> list[Path]:
    from estimators.data.codecs import get_codec

    paths = []
    for i, frames in enumerate(videos):
        path = folder / f"{i:04d}.mp4"
        path.write_bytes(get_codec("h264").encode(frames, 30))
        paths.append(path)
    return paths


def _pyav_clip(path: Path, indices: np.ndarray) -> np.ndarray:
    import av

    wanted, frames = set(indices.tolist()), {}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for position, frame in enumerate(container.decode(stream)):
            if position in wanted:
                frames[position] = frame.to_ndarray(format="rgb24", threads=1)
            if position >= indices[-1]:
                break
    return np.stack([frames[i] for i in indices])


def _loader_rate(cache_path: Path, sampling, workers: int, min_seconds: float) -> float:
    import torch

    from estimators.data.dataset import ClipDataset

    data = ClipDataset(cache_path, "train", sampling)
    loader = torch.utils.data.DataLoader(
        data, batch_size=16, shuffle=True, num_workers=workers, persistent_workers=workers > 0, drop_last=False
    )

    def epoch():
        for _ in loader:
            pass

    return _rate(epoch, len(data), min_seconds)


def measure_encodings(folder: Path, quick: bool) -> list[dict]:
    from estimators.data.cache import ClipCache
    from estimators.data.dataset import ClipSampling
    from estimators.data.ingest import build_synthetic
    from estimators.data.synthetic import SynthSettings, render_job

    settings = SynthSettings(classes=4, clips_per_class=4 if quick else 8, frames=64, size=128)
    videos = [
        render_job(settings, label, index)
        for index in range(settings.clips_per_class)
        for label in range(settings.classes)
    ]
    rng = np.random.default_rng(0)
    window = (CLIP_FRAMES - 1) * CLIP_STRIDE + 1
    starts = rng.integers(0, settings.frames - window + 1, len(videos))
    clip_indices = [np.arange(s, s + window, CLIP_STRIDE) for s in starts]
    min_seconds = 0.5 if quick else 2.0

    memory = _rate(lambda: [v[i].copy() for v, i in zip(videos, clip_indices)], len(videos), min_seconds)
    mp4s = _write_mp4s(folder, videos)
    pyav = _rate(lambda: [_pyav_clip(p, i) for p, i in zip(mp4s, clip_indices)], len(videos), min_seconds)
    sampling = ClipSampling(CLIP_FRAMES, CLIP_STRIDE, CLIP_CROP, "train")
    rows = []
    for codec in CODECS:
        path = folder / codec
        build_synthetic(path, settings, codec=codec, workers=1)
        cache = ClipCache(path)
        order = [
            cache.index.ids.index(f"{settings.class_names[i % settings.classes]}_{i // settings.classes:05d}")
            for i in range(len(videos))
        ]
        read = _rate(lambda: [cache.read(p, i) for p, i in zip(order, clip_indices)], len(videos), min_seconds)
        rows.append(
            {
                "codec": codec,
                "bytes_per_video": round(
                    sum(f.stat().st_size for f in path.iterdir() if f.name == "data.mdb") / len(videos)
                ),
                "cache_read_clips_per_s": round(read, 1),
                "loader_1_process_clips_per_s": round(_loader_rate(path, sampling, 0, min_seconds), 1),
                "loader_2_workers_clips_per_s": round(_loader_rate(path, sampling, 2, min_seconds), 1),
                "pyav_mp4_clips_per_s": round(pyav, 1),
                "memory_clips_per_s": round(memory, 1),
                "read_vs_pyav": round(read / pyav, 2),
            }
        )
    return rows


def measure_training_margin(folder: Path, quick: bool) -> dict:
    """The proxy trainer's clips/s against the loader's at the same setting (64^2 clips, 8x4 @ 48)."""
    from estimators.data.dataset import ClipDataset, ClipSampling
    from estimators.data.ingest import build_synthetic
    from estimators.data.synthetic import SynthSettings
    from estimators.training import TrainSettings, build_seeded, train
    from spaces import get_space

    path = folder / "proxy"
    build_synthetic(path, SynthSettings(clips_per_class=6), workers=1)
    sampling = ClipSampling(8, 4, 48, "train")
    loader = _loader_rate(path, sampling, 0, 0.5 if quick else 2.0)
    space = get_space("x3d", num_classes=12, base_crop=48, base_stride=4, head_width=256, dropout=0.2)
    point = space.point(frames=8, stride=4, crop=48, width=0.5, bottleneck=2.25, depth=1.0)
    result = train(
        build_seeded(space, point, 0),
        ClipDataset(path, "train", sampling),
        None,
        TrainSettings(seconds=4 if quick else 15),
    )
    return {
        "setting": point.key,
        "loader_clips_per_s": round(loader, 1),
        "trainer_clips_per_s": round(result.clips_per_second, 1),
        "loader_over_trainer": round(loader / result.clips_per_second, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    with tempfile.TemporaryDirectory(prefix="bench_data_") as folder:
        rows = measure_encodings(Path(folder), args.quick)
        margin = measure_training_margin(Path(folder), args.quick)
    print(
        f"clips of {CLIP_FRAMES} frames at stride {CLIP_STRIDE} from 64-frame 128^2 videos, crop {CLIP_CROP} (clips/s)"
    )
    print(
        f"{'codec':<6}{'MB/video':>9}{'cache read':>12}{'loader x1':>11}{'loader 2w':>11}"
        f"{'PyAV mp4':>10}{'memory':>10}{'read/PyAV':>11}"
    )
    for row in rows:
        print(
            f"{row['codec']:<6}{row['bytes_per_video'] / 1e6:>9.3f}{row['cache_read_clips_per_s']:>12,.0f}"
            f"{row['loader_1_process_clips_per_s']:>11,.0f}{row['loader_2_workers_clips_per_s']:>11,.0f}"
            f"{row['pyav_mp4_clips_per_s']:>10,.0f}{row['memory_clips_per_s']:>10,.0f}{row['read_vs_pyav']:>10.1f}x"
        )
    print(
        f"proxy training ({margin['setting']}): trainer {margin['trainer_clips_per_s']:.0f} clips/s, "
        f"loader {margin['loader_clips_per_s']:.0f} clips/s in one process = "
        f"{margin['loader_over_trainer']:.1f}x (target >= 5x)"
    )
    if args.json:
        emit_json(
            {
                "benchmark": "data",
                "quick": args.quick,
                "encodings": rows,
                "training_margin": margin,
                "machine": machine(),
            }
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
