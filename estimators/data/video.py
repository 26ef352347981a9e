"""Decoding one video file with PyAV into frames at a fixed frame rate and short side."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


class VideoError(Exception):
    """A video that cannot be stored; the message is the reason listed in the cache report."""


def _scaled_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(width, height) with the shorter side = ``short_side``, both even (what codecs want)."""
    scale = short_side / min(width, height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


class _HeldFrame:
    """The latest decoded frame, converted to RGB only if some output time shows it."""

    def __init__(self, short_side: int) -> None:
        self.short_side = short_side
        self.frame = None
        self._rgb: np.ndarray | None = None

    def replace(self, frame) -> None:
        self.frame, self._rgb = frame, None

    def rgb(self) -> np.ndarray:
        if self._rgb is None:
            width, height = _scaled_size(self.frame.width, self.frame.height, self.short_side)
            # threads=1: PyAV's threaded conversion is several times slower on small frames
            self._rgb = self.frame.reformat(
                width=width, height=height, format="rgb24", interpolation="AREA", threads=1
            ).to_ndarray()
        return self._rgb


def decode_video(path: str | os.PathLike, *, fps: float, short_side: int) -> np.ndarray:
    """All frames of a video resampled to ``fps`` (nearest earlier frame) at ``short_side``, uint8 (T, H, W, 3).

    Raises :class:`VideoError` with the reason for a missing, empty,
    unreadable or truncated file, or one with no video stream.
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise VideoError("missing file")
    if path.stat().st_size == 0:
        raise VideoError("empty file (0 bytes)")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as error:
        raise VideoError(f"unreadable: {error}") from None
    frames: list[np.ndarray] = []
    with container:
        if not container.streams.video:
            raise VideoError("no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "NONE"
        time_base = float(stream.time_base) if stream.time_base else None
        held = _HeldFrame(short_side)
        first_time = None
        decoded = 0
        try:
            for frame in container.decode(stream):
                moment = frame.pts * time_base if (frame.pts is not None and time_base) else decoded / fps
                first_time = moment if first_time is None else first_time
                moment -= first_time
                # output times before this frame show the frame held so far (sample and hold)
                while held.frame is not None and len(frames) / fps < moment - 1e-9:
                    frames.append(held.rgb())
                held.replace(frame)
                decoded += 1
                if len(frames) / fps <= moment + 1e-9:
                    frames.append(held.rgb())
        except (av.error.FFmpegError, ValueError) as error:
            if not frames:
                raise VideoError(f"unreadable: {error}") from None
            raise VideoError(f"truncated: decoding failed after {len(frames)} frames ({error})") from None
    if not frames:
        raise VideoError("no decodable frames")
    return np.stack(frames)
