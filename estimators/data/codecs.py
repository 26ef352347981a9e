"""How a video's frames are stored in a cache record: raw, JPEG or H.264.

Chosen at build time, measured by ``benchmarks/bench_data.py``: raw uint8
frames are the fastest to read and the largest; per-frame JPEG is several
times smaller and decodes only the frames a clip needs; H.264 is the
smallest and must decode from the start of the video up to the last frame
a clip needs.  Every codec decodes to ``uint8`` arrays of shape
``(frames, height, width, 3)``.
"""

from __future__ import annotations

import io
import struct
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from spaces.errors import unknown_name

JPEG_QUALITY = 90
H264_CRF = 18
H264_PRESET = "veryfast"


class Codec(ABC):
    name: str

    @abstractmethod
    def encode(self, frames: np.ndarray, fps: float) -> bytes:
        """Encode ``(T, H, W, 3)`` uint8 frames."""

    @abstractmethod
    def decode(self, payload: bytes, shape: tuple[int, int, int], indices: Sequence[int]) -> np.ndarray:
        """The frames at ``indices`` (any order, repeats allowed) of a video of ``shape`` = (T, H, W)."""


class RawCodec(Codec):
    """Frames as contiguous uint8 bytes: a clip is a zero-copy slice of the record."""

    name = "raw"

    def encode(self, frames: np.ndarray, fps: float) -> bytes:
        return np.ascontiguousarray(frames, dtype=np.uint8).tobytes()

    def decode(self, payload: bytes, shape: tuple[int, int, int], indices: Sequence[int]) -> np.ndarray:
        t, h, w = shape
        video = np.frombuffer(payload, dtype=np.uint8)
        if video.size != t * h * w * 3:
            raise ValueError(f"raw record holds {video.size} bytes, expected {t * h * w * 3}")
        return video.reshape(t, h, w, 3)[np.asarray(indices, dtype=np.int64)]


class JpegCodec(Codec):
    """One JPEG per frame behind an offset table, so a clip decodes only its own frames."""

    name = "jpeg"

    def encode(self, frames: np.ndarray, fps: float) -> bytes:
        from PIL import Image

        blobs = []
        for frame in frames:
            buffer = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(frame)).save(buffer, format="JPEG", quality=JPEG_QUALITY)
            blobs.append(buffer.getvalue())
        offsets = np.cumsum([0] + [len(b) for b in blobs], dtype=np.uint64)
        return struct.pack("<I", len(blobs)) + offsets.tobytes() + b"".join(blobs)

    def decode(self, payload: bytes, shape: tuple[int, int, int], indices: Sequence[int]) -> np.ndarray:
        from PIL import Image

        count = struct.unpack_from("<I", payload)[0]
        if count != shape[0]:
            raise ValueError(f"jpeg record holds {count} frames, expected {shape[0]}")
        offsets = np.frombuffer(payload, dtype=np.uint64, count=count + 1, offset=4)
        base = 4 + 8 * (count + 1)
        decoded: dict[int, np.ndarray] = {}
        for i in set(int(i) for i in indices):
            blob = payload[base + int(offsets[i]) : base + int(offsets[i + 1])]
            decoded[i] = np.asarray(Image.open(io.BytesIO(blob)).convert("RGB"))
        return np.stack([decoded[int(i)] for i in indices])


class H264Codec(Codec):
    """The whole video as an in-memory MP4 (libx264, CRF 18): smallest, slowest to read."""

    name = "h264"

    def encode(self, frames: np.ndarray, fps: float) -> bytes:
        import av

        buffer = io.BytesIO()
        with av.open(buffer, "w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=round(fps))
            stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
            stream.options = {"crf": str(H264_CRF), "preset": H264_PRESET}
            for frame in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        return buffer.getvalue()

    def decode(self, payload: bytes, shape: tuple[int, int, int], indices: Sequence[int]) -> np.ndarray:
        import av

        wanted = set(int(i) for i in indices)
        last = max(wanted)
        decoded: dict[int, np.ndarray] = {}
        with av.open(io.BytesIO(payload)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "NONE"
            for position, frame in enumerate(container.decode(stream)):
                if position in wanted:
                    decoded[position] = frame.to_ndarray(format="rgb24", threads=1)  # threaded conversion is 4x slower
                if position >= last:
                    break
        missing = wanted - set(decoded)
        if missing:
            raise ValueError(f"h264 record ended before frame {min(missing)} of {shape[0]}")
        return np.stack([decoded[int(i)] for i in indices])


CODECS: dict[str, type[Codec]] = {codec.name: codec for codec in (RawCodec, JpegCodec, H264Codec)}


def get_codec(name: str) -> Codec:
    if name not in CODECS:
        raise unknown_name("codec", name, list(CODECS))
    return CODECS[name]()
