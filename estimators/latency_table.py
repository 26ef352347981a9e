"""Predicted latency from a per-layer lookup table: a network's time without running the network.

Every distinct layer configuration (conv, batch norm, activation, SE,
pooling, linear, ... with its input shapes; see :mod:`estimators.layers`) is
timed once on this device and kept in a JSON table in the cache folder
(``$NAS_CACHE_DIR/latency/<device>.json``, one file per device identity:
device kind, CPU model, threads, torch version).  A point's latency is then
the sum of its layers' times, found by listing its layers on the meta device
— a few milliseconds for a network whose layers are all in the table.

Layers timed one at a time run faster than inside a network (their inputs
and weights stay in the cache, the instruction stream does not change), so
the sum is calibrated once per space: a handful of small points are measured
whole and ``measured = scale * sum + offset`` is fitted by least squares.
The calibration is stored in the table beside the layers.

Layers too large to allocate comfortably (the largest points of a space,
needed only to check that a latency target is reachable) are timed on an
input reduced along its spatial and temporal dimensions and scaled by the
ratio of positions: exact in the limit where per-call overhead is negligible,
which it is for layers that size.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from spaces import Point, SearchSpace
from spaces.errors import NasError

from .base import Estimator, Measurement, fingerprint_of
from .latency import LatencySettings, device_identity, measure_model, time_call
from .layers import GlueCall, LayerCall, NetworkLayers, TensorSpec, list_layers

FORMAT = "nas-latency-table/1"
#: Tensors above this many elements are timed on a reduced input and scaled (16 MB of float32).
MAX_TIMED_ELEMENTS = 1 << 22
#: Reduced dimensions are not halved below this size.
MIN_REDUCED_SIZE = 8
#: Points measured whole to calibrate a space's sums.
CALIBRATION_POINTS = 8


def default_table_path(identity: dict[str, Any]) -> Path:
    """``$NAS_CACHE_DIR/latency/<hash of the device identity>.json``."""
    from .data.default import default_cache_dir

    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    return default_cache_dir() / "latency" / f"{digest}.json"


class LatencyTable:
    """Milliseconds per layer key and calibrations per space, for one device identity, kept in a JSON file."""

    def __init__(self, settings: LatencySettings = LatencySettings(), path: str | os.PathLike | None = None) -> None:
        self.settings = settings
        self.identity = {**device_identity(settings), "warmup": settings.warmup, "repeats": settings.repeats}
        self.path = Path(path) if path is not None else default_table_path(self.identity)
        self.layers: dict[str, float] = {}
        self.calibrations: dict[str, dict[str, float]] = {}
        self._dirty = False
        self._merge(self._read())

    def _read(self) -> dict[str, Any]:
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text())
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format') if isinstance(data, dict) else None!r}, not {FORMAT!r}")
        except (OSError, ValueError) as error:
            raise NasError(
                f"the latency table {self.path} is unreadable ({error}); delete it to measure again"
            ) from None
        if data.get("identity") != self.identity:
            raise NasError(
                f"the latency table {self.path} was measured on {data.get('identity')}, not {self.identity}; "
                "delete it or give another path"
            )
        return data

    def _merge(self, data: dict[str, Any]) -> None:
        """Add what the file holds; where both hold a key, the file wins (the first process to save it)."""
        self.layers = {**self.layers, **{k: float(v) for k, v in data.get("layers", {}).items()}}
        self.calibrations = {**self.calibrations, **data.get("calibrations", {})}

    def refresh(self) -> None:
        """Read what other processes (a search and its workers) saved since: one table, one answer per layer."""
        self._merge(self._read())

    def save(self) -> None:
        """Write the table (merged with what other processes wrote meanwhile) whole or not at all.

        Processes that time the same new layer at the same moment each keep
        their own time until this merge; from then on the first saved one holds.
        """
        from .files import write_atomically

        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._merge(self._read())
        payload = {
            "format": FORMAT,
            "identity": self.identity,
            "layers": self.layers,
            "calibrations": self.calibrations,
        }
        write_atomically(
            self.path,
            lambda tmp: Path(tmp).write_text(json.dumps(payload, sort_keys=True, indent=0)),
            what="latency table",
        )
        self._dirty = False

    def milliseconds(self, call: LayerCall | GlueCall) -> float:
        """The call's time from the table, timing it first if it is new."""
        if call.key not in self.layers:
            self.layers[call.key] = time_layer(call, self.settings)
            self._dirty = True
        return self.layers[call.key]

    def set_calibration(self, key: str, calibration: dict[str, float]) -> None:
        self.calibrations[key] = calibration
        self._dirty = True


def _materialise(value: Any, device: str) -> Any:
    """Arguments with every :class:`TensorSpec` made into a random tensor on ``device``."""
    import torch

    if isinstance(value, TensorSpec):
        dtype = getattr(torch, value.dtype)
        if dtype.is_floating_point:
            return torch.randn(value.shape, device=device, dtype=dtype)
        return torch.zeros(value.shape, device=device, dtype=dtype)
    if isinstance(value, (list, tuple)):
        return type(value)(_materialise(v, device) for v in value)
    if isinstance(value, dict):
        return {k: _materialise(v, device) for k, v in value.items()}
    return value


def _specs(value: Any) -> list[TensorSpec]:
    if isinstance(value, TensorSpec):
        return [value]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _specs(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _specs(v)]
    return []


def reduced(args: Any, out_numel: int, limit: int = MAX_TIMED_ELEMENTS) -> tuple[Any, float]:
    """``args`` with the trailing (temporal, spatial) dimensions halved until no tensor exceeds ``limit``;
    and the scale back.

    The largest tensor's dimensions from the third on are halved, largest
    first; every tensor argument of that rank with the same size on a halved
    dimension shrinks with it (broadcast dimensions of size 1 stay), so a
    residual add or a gating multiply keeps matching shapes.
    """
    specs = _specs(args)
    if not specs:
        return args, 1.0
    largest = max(specs, key=lambda s: s.numel)
    if len(largest.shape) < 3 or max(largest.numel, out_numel) <= limit:
        return args, 1.0
    old, new = list(largest.shape), list(largest.shape)
    ratio = 1.0
    while max(largest.numel, out_numel) * ratio > limit:
        dim = max(range(2, len(new)), key=lambda i: new[i])
        if new[dim] < 2 * MIN_REDUCED_SIZE:
            break
        new[dim] = math.ceil(new[dim] / 2)
        ratio = math.prod(new[2:]) / math.prod(old[2:])

    def shrink(value: Any) -> Any:
        if isinstance(value, TensorSpec) and len(value.shape) == len(old):
            shape = tuple(
                n if i >= 2 and size == o else size for i, (size, o, n) in enumerate(zip(value.shape, old, new))
            )
            return TensorSpec(shape, value.dtype)
        if isinstance(value, (list, tuple)):
            return type(value)(shrink(v) for v in value)
        if isinstance(value, dict):
            return {k: shrink(v) for k, v in value.items()}
        return value

    return shrink(args), 1.0 / ratio


def _live_module(module: Any, device: str) -> Any:
    """A copy of a meta module with real storage: weights small and random, buffers (BN statistics) positive."""
    import torch

    live = copy.deepcopy(module).to_empty(device=device).eval()
    with torch.no_grad():
        for parameter in live.parameters():
            parameter.uniform_(-0.1, 0.1)
        for buffer in live.buffers():
            buffer.uniform_(0.5, 1.0) if buffer.is_floating_point() else buffer.zero_()
    return live


def time_layer(call: LayerCall | GlueCall, settings: LatencySettings) -> float:
    """Milliseconds of one call of a leaf layer or glue operator, alone, on random inputs."""
    out_numel = call.out_numel if isinstance(call, LayerCall) else 0
    args, scale = reduced(call.args, out_numel)
    try:
        inputs = _materialise(args, settings.device)
        if isinstance(call, LayerCall):
            module = _live_module(call.module, settings.device)
            return time_call(lambda: module(*inputs), settings) * scale
        kwargs = _materialise(call.kwargs, settings.device)
        return time_call(lambda: call.op(*inputs, **kwargs), settings) * scale
    except (RuntimeError, TypeError) as error:
        raise NasError(
            f"cannot time {call.key}: {str(error).splitlines()[0] if str(error) else type(error).__name__}"
        ) from None


def space_key(space: SearchSpace, batch: int, num_classes: int | None) -> str:
    """What a calibration is valid for: the space, its version and settings, the batch and the classifier size."""
    settings = json.dumps(space.settings(), sort_keys=True, default=str)
    digest = hashlib.sha256(settings.encode()).hexdigest()[:12]
    return f"{space.name}/v{space.version}/{digest}/batch{batch}/classes{num_classes}"


def calibration_points(space: SearchSpace, count: int = CALIBRATION_POINTS, seed: int = 0) -> list[Point]:
    """The base and a seeded walk of expansions from it: small points (1 to ~8x the base)
    that are quick to measure whole."""
    rng = random.Random(seed)
    points = [space.base]
    for _ in range(20 * count):
        if len(points) >= count:
            break
        options = [p for p in space.expansions(rng.choice(points)).values() if p not in points]
        if options:
            points.append(rng.choice(options))
    return points


def fit_calibration(sums: list[float], measured: list[float]) -> dict[str, float]:
    """``measured = scale * sum + offset`` by least squares; a line through the origin where that fit is unusable.

    A negative offset would predict a non-positive latency for networks smaller
    than every calibration point (it did, for a held-out point in CI), so the
    offset must be at least 0; otherwise, and with a non-positive scale, the
    least-squares line through the origin is kept. Below three points the
    median ratio of measured to summed times is kept (offset 0).
    """
    ratio = sorted(m / s for m, s in zip(measured, sums))[len(sums) // 2]
    if len(sums) < 3:
        return {"scale": ratio, "offset": 0.0}
    n = len(sums)
    mean_x, mean_y = sum(sums) / n, sum(measured) / n
    spread = sum((x - mean_x) ** 2 for x in sums)
    scale = sum((x - mean_x) * (y - mean_y) for x, y in zip(sums, measured)) / spread if spread else 0.0
    offset = mean_y - scale * mean_x
    if scale <= 0 or offset < 0:
        through_origin = sum(x * y for x, y in zip(sums, measured)) / sum(x * x for x in sums)
        return {"scale": through_origin if through_origin > 0 else ratio, "offset": 0.0}
    return {"scale": scale, "offset": offset}


class LayerLatencyPredictor(Estimator):
    """Latency predicted as the calibrated sum of a per-layer lookup table
    (``latency_ms``, like :class:`MeasuredLatency`)."""

    name = "latency-table"

    def __init__(
        self,
        settings: LatencySettings = LatencySettings(),
        *,
        table: LatencyTable | None = None,
        num_classes: int | None = None,
        calibration_points: int = CALIBRATION_POINTS,
    ) -> None:
        if calibration_points < 1:
            raise NasError(f"calibration needs at least 1 point, got {calibration_points}")
        self.settings, self.num_classes, self.calibration_count = settings, num_classes, calibration_points
        self.table = table if table is not None else LatencyTable(settings)

    def layers(self, space: SearchSpace, point: Point, batch: int = 1) -> NetworkLayers:
        """The point's leaf layers and glue operators, listed on the meta device."""
        import torch

        with torch.device("meta"):
            model = space.build(point, num_classes=self.num_classes)
        return list_layers(model, space.input_shape(point, batch))

    def layer_sum(self, space: SearchSpace, point: Point, batch: int = 1) -> float:
        """Uncalibrated milliseconds: the sum of the table's times of every call (new ones timed and saved)."""
        network = self.layers(space, point, batch)
        if any(key not in self.table.layers for key in network.keys()):
            self.table.refresh()  # another process may have timed them already
        total = sum(self.table.milliseconds(call) for call in [*network.layers, *network.glue])
        self.table.save()
        return total

    def calibration(self, space: SearchSpace, batch: int = 1) -> dict[str, float]:
        """The space's scale and offset, fitted on first use by measuring a few small points whole."""
        key = space_key(space, batch, self.num_classes)
        if key not in self.table.calibrations:
            self.table.refresh()
        if key not in self.table.calibrations:
            import sys

            from tqdm import tqdm

            points = calibration_points(space, self.calibration_count)
            sums, measured = [], []
            with tqdm(
                points,
                desc=f"calibrating latency of {space.name} on this machine (once)",
                unit="net",
                file=sys.stderr,
                disable=None,
                leave=False,
            ) as bar:  # 10-20 s the first time: show it
                for p in bar:
                    sums.append(self.layer_sum(space, p, batch))
                    measured.append(
                        measure_model(
                            space.build(p, num_classes=self.num_classes), space.input_shape(p, batch), self.settings
                        )
                    )
            self.table.set_calibration(key, {**fit_calibration(sums, measured), "points": len(points)})
            self.table.save()
        return self.table.calibrations[key]

    def predict_ms(self, space: SearchSpace, point: Point, batch: int = 1) -> float:
        calibration = self.calibration(space, batch)
        return calibration["scale"] * self.layer_sum(space, point, batch) + calibration["offset"]

    def evaluate(self, space: SearchSpace, point: Point, fidelity: float | None = None) -> Measurement:
        start = time.perf_counter()
        metrics = {"latency_ms": self.predict_ms(space, point, 1)}
        if self.settings.batch != 1:
            metrics["latency_ms_batch"] = self.predict_ms(space, point, self.settings.batch)
        return Measurement(point, metrics, seconds=time.perf_counter() - start, info={"table": str(self.table.path)})

    def fingerprint(self, fidelity: float | None = None) -> str:
        return fingerprint_of(
            self.name,
            {
                **asdict(self.settings),
                **self.table.identity,
                "num_classes": self.num_classes,
                "calibration_points": self.calibration_count,
            },
        )
