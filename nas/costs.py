"""What a search's compute target limits: multiply-adds (``--cost flops``) or predicted latency (``--cost latency``).

Every strategy takes a ``cost`` callable (point -> int) and a target in the
same unit.  For FLOPs that is the analytic MACs and ``--target-gflops``; for
latency it is the per-layer table's predicted milliseconds at batch 1 on this
device, as whole microseconds, and ``--target-ms``.  The study's config
records the cost kind with its measuring settings and device, so a resumed
search, ``nas worker`` and ``nas report`` rebuild the same cost from the
ledger alone (:func:`cost_from_config`); a FLOPs search's config is exactly
what it was before latency existed, so older studies resume unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from spaces import Point, SearchSpace
from spaces.errors import NasError

COST_KINDS = ("flops", "latency")
#: Latency costs are whole microseconds (strategies compare ints).
MICROSECONDS_PER_MS = 1000
DEFAULT_LATENCY_THREADS = 1


@dataclass(frozen=True)
class Unit:
    """How a cost is shown: ``value / scale`` followed by ``label``."""

    label: str
    scale: float

    def show(self, cost: float, digits: int = 4) -> str:
        return f"{cost / self.scale:.{digits}g} {self.label}"


GMACS = Unit("GMACs", 1e9)
MILLISECONDS = Unit("ms", MICROSECONDS_PER_MS)


class LatencyCost:
    """A point's predicted latency in whole microseconds; each point is predicted once per instance."""

    def __init__(self, space: SearchSpace, settings: Mapping[str, Any]) -> None:
        from estimators.latency import LatencySettings
        from estimators.latency_table import LayerLatencyPredictor

        self.space = space
        self.unit = MILLISECONDS  # costs are whole microseconds, shown in ms
        self.settings = dict(settings)
        self.predictor = LayerLatencyPredictor(LatencySettings(**self.settings, batch=1))
        self._memo: dict[Point, int] = {}

    @property
    def identity(self) -> dict[str, Any]:
        return self.predictor.table.identity

    def __call__(self, point: Point) -> int:
        if point not in self._memo:
            self._memo[point] = max(1, round(self.predictor.predict_ms(self.space, point) * MICROSECONDS_PER_MS))
        return self._memo[point]

    def check_target(self, target: int) -> None:
        """Refuse a target below the base network's latency, or beyond every network of the space.

        The upper check climbs from the base by expanding every operation at
        once (each climb is ~2^operations times the compute), so a reachable
        target is confirmed after one or two small predictions and only an
        unreachable one costs predicting the space's largest network.
        """
        space = self.space
        base = self(space.base)
        if target < base:
            raise NasError(
                f"the latency target ({MILLISECONDS.show(target)}) is below the base network's predicted "
                f"{MILLISECONDS.show(base)} at {space.base.key} on this machine; raise --target-ms"
            )
        point = space.base
        while self(point) < target:
            bigger = _expand_all(space, point)
            if bigger == point:
                raise NasError(
                    f"the latency target ({MILLISECONDS.show(target)}) is above the largest network "
                    f"this space's expansions reach ({MILLISECONDS.show(self(point))} predicted at {point.key}): "
                    "no search can reach it; lower --target-ms"
                )
            point = bigger


def _expand_all(space: SearchSpace, point: Point) -> Point:
    """``point`` expanded once by every operation that still applies; ``point`` itself at the ends of every ladder."""
    for operation in space.operations:
        if space.can_expand(point, operation):
            point = space.expand(point, operation)
    return point


def resolve_target(
    args: Any, space: SearchSpace, default_gflops: float | None
) -> tuple[int, Callable[[Point], int] | None]:
    """The target in cost units and the cost callable (None: analytic MACs), with every bad combination refused.

    ``args``: a :class:`~nas.config.SearchConfig`, or any object with its ``cost``, ``target_gflops``,
    ``target_ms`` and ``latency_threads``.
    """
    if args.cost == "flops":
        if args.target_ms is not None:
            raise NasError(
                f"--target-ms {args.target_ms:g} needs --cost latency (with --cost flops the target is --target-gflops)"
            )
        gflops = args.target_gflops if args.target_gflops is not None else default_gflops
        if gflops is None:
            raise NasError(f"space {space.name!r} has no default compute target; give --target-gflops")
        if not gflops > 0 or not math.isfinite(gflops):
            raise NasError(f"--target-gflops must be positive, got {gflops}")
        return round(gflops * 1e9), None
    if args.target_gflops is not None:
        raise NasError(f"--target-gflops {args.target_gflops:g} is a MACs target; with --cost latency give --target-ms")
    return latency_target(args, space)


def latency_target(args: Any, space: SearchSpace) -> tuple[int, "LatencyCost"]:
    """``--target-ms`` in microseconds and the latency cost of ``--latency-threads``,
    the target checked against the space."""
    if args.target_ms is None:
        raise NasError("--cost latency needs a latency target: give --target-ms T (milliseconds per clip at batch 1)")
    if not args.target_ms > 0 or not math.isfinite(args.target_ms):
        raise NasError(f"--target-ms must be a positive number of milliseconds, got {args.target_ms:g}")
    if args.latency_threads < 1:
        raise NasError(f"--latency-threads must be at least 1, got {args.latency_threads}")
    cost = LatencyCost(space, {"threads": args.latency_threads})
    target = round(args.target_ms * MICROSECONDS_PER_MS)
    cost.check_target(target)
    return target, cost


def cost_config(cost: Callable[[Point], int] | None) -> dict[str, Any]:
    """What the study's config records of the cost: nothing for FLOPs (older studies stay valid),
    else kind, unit, settings, device."""
    if not isinstance(cost, LatencyCost):
        return {}
    return {"cost": {"kind": "latency", "unit": "us", "settings": cost.settings, "identity": cost.identity}}


def cost_from_config(space: SearchSpace, config: Mapping[str, Any]) -> Callable[[Point], int] | None:
    """The cost a study was searched with, rebuilt on this machine;
    refused where this device would measure otherwise."""
    recorded = config.get("cost")
    if not recorded:
        return None
    if recorded.get("kind") != "latency":
        raise NasError(
            f"the study's cost {recorded.get('kind')!r} is unknown to this toolkit (known: {', '.join(COST_KINDS)})"
        )
    cost = LatencyCost(space, recorded["settings"])
    if cost.identity != recorded["identity"]:
        differs = sorted(
            k
            for k in set(cost.identity) | set(recorded["identity"])
            if cost.identity.get(k) != recorded["identity"].get(k)
        )
        raise NasError(
            f"this machine would predict other latencies than the search's ({', '.join(differs)} differ: "
            f"{ {k: recorded['identity'].get(k) for k in differs} }); run it where the search runs"
        )
    return cost


def target_key(cost: Callable[[Point], int] | None) -> str:
    """The study config's key for the target, naming its unit: ``target_macs``, or ``target_us`` under latency."""
    return "target_us" if isinstance(cost, LatencyCost) else "target_macs"


def target_of(config: Mapping[str, Any]) -> int:
    """A study's target in its cost's unit (see :func:`target_key`)."""
    return int(config["target_us"] if "target_us" in config else config["target_macs"])


def unit_of(config: Mapping[str, Any] | None) -> Unit:
    """How a study's costs and target are shown."""
    return MILLISECONDS if config and (config.get("cost") or {}).get("kind") == "latency" else GMACS
