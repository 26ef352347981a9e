"""Measured inference latency: a candidate built and timed on the device at hand.

FLOPs are a poor proxy for speed: a depthwise 3D convolution does few
multiply-adds per byte it moves, so on a CPU it is far slower per MAC than a
dense one.  This module times the real thing: the network in eval mode under
``torch.inference_mode``, a few warm-up calls, then the median of ``repeats``
timed samples (each sample a loop long enough for the clock to resolve it).
The same timing routine serves single layers (:mod:`estimators.latency_table`),
so a sum of layer times and a whole-network time are measured alike.

A latency is only comparable on the same device, thread count, batch and
torch build: :func:`device_identity` names them, and every fingerprint and
cache key built on latencies includes it.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Iterator

from spaces import Point, SearchSpace
from spaces.errors import NasError

from .base import Estimator, Measurement, fingerprint_of

#: A timed sample lasts at least this long (short calls are looped): the clock and the scheduler stay small beside it.
MIN_SAMPLE_SECONDS = 0.002


@dataclass(frozen=True)
class LatencySettings:
    """How latency is measured.  ``batch`` is the second batch size reported beside batch 1."""

    device: str = "cpu"
    threads: int = 1
    warmup: int = 3
    repeats: int = 15
    batch: int = 8

    def __post_init__(self) -> None:
        for name in ("threads", "warmup", "repeats", "batch"):
            value = getattr(self, name)
            low = 0 if name == "warmup" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise NasError(f"latency setting {name} must be a whole number >= {low}, got {value!r}")
        if not (self.device == "cpu" or self.device.startswith("cuda")):
            raise NasError(f"latency device must be 'cpu' or 'cuda[:N]', got {self.device!r}")


@lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux; the platform's processor string elsewhere)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_identity(settings: LatencySettings) -> dict[str, Any]:
    """Everything besides the network that a latency depends on: device kind and model, threads, torch build."""
    import torch

    identity = {
        "device": settings.device.split(":")[0],
        "cpu": cpu_model(),
        "threads": settings.threads,
        "torch": torch.__version__,
    }
    if settings.device.startswith("cuda"):
        identity["gpu"] = torch.cuda.get_device_name(torch.device(settings.device))
    return identity


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run with ``threads`` intra-op threads, restoring the caller's setting after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def time_call(call: Callable[[], Any], settings: LatencySettings) -> float:
    """Median milliseconds of one ``call()``: warm-up calls first, then ``repeats`` looped samples."""
    import torch

    sync = torch.cuda.synchronize if settings.device.startswith("cuda") else (lambda: None)
    with torch_threads(settings.threads), torch.inference_mode():
        for _ in range(settings.warmup):
            call()
        sync()
        start = time.perf_counter()
        call()
        sync()
        once = time.perf_counter() - start
        loops = max(1, int(MIN_SAMPLE_SECONDS / max(once, 1e-7)))
        samples = []
        for _ in range(settings.repeats):
            start = time.perf_counter()
            for _ in range(loops):
                call()
            sync()
            samples.append((time.perf_counter() - start) / loops)
    return statistics.median(samples) * 1e3


def measure_model(model: Any, input_shape: tuple[int, ...], settings: LatencySettings) -> float:
    """Median milliseconds of one forward pass of ``model`` (put in eval mode) on a random input of ``input_shape``."""
    import torch

    model = model.to(settings.device).eval()
    inputs = torch.randn(input_shape, device=settings.device)
    return time_call(lambda: model(inputs), settings)


class MeasuredLatency(Estimator):
    """Builds the point's network and times it: ``latency_ms`` at batch 1
    and ``latency_ms_batch`` at ``settings.batch``.

    Seconds per point are the network's own latency times the repeats: exact,
    and the reference :class:`estimators.latency_table.LayerLatencyPredictor` is validated against.
    """

    name = "latency"

    def __init__(self, settings: LatencySettings = LatencySettings(), num_classes: int | None = None) -> None:
        self.settings, self.num_classes = settings, num_classes

    def evaluate(self, space: SearchSpace, point: Point, fidelity: float | None = None) -> Measurement:
        start = time.perf_counter()
        model = space.build(point, num_classes=self.num_classes)
        metrics = {"latency_ms": measure_model(model, space.input_shape(point, 1), self.settings)}
        if self.settings.batch != 1:
            metrics["latency_ms_batch"] = measure_model(
                model, space.input_shape(point, self.settings.batch), self.settings
            )
        return Measurement(
            point,
            metrics,
            seconds=time.perf_counter() - start,
            info={"batch": self.settings.batch, "device": device_identity(self.settings)},
        )

    def fingerprint(self, fidelity: float | None = None) -> str:
        return fingerprint_of(
            self.name, {**asdict(self.settings), **device_identity(self.settings), "num_classes": self.num_classes}
        )
