"""The search-space abstraction every strategy, estimator and benchmark works with.

A :class:`SearchSpace` is axes + a base point + named presets + expansion
operations, and knows how to validate, sample, encode and export its points.
Subclasses add what only they can know: the analytic complexity of a point,
the ``nn.Module`` it describes and the clips it reads.  Nothing here imports
torch, optuna or nni at module level, so ``import spaces`` stays cheap.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .axis import Axis, Value
from .complexity import Complexity
from .errors import (
    ExpansionError,
    InheritanceError,
    InvalidPointError,
    SpaceError,
    UnknownAxisError,
    unknown_name,
)
from .operations import AxisStep, Operation
from .point import Point, coerce_mapping

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch.nn


@dataclass(frozen=True)
class ClipSpec:
    """What a point reads from the clip cache: frames at a sampling stride, cropped square.

    ``image`` networks read one frame as a ``(3, crop, crop)`` image instead of
    a ``(3, frames, crop, crop)`` clip: the same cache and loader serve both.
    """

    frames: int
    stride: int
    crop: int
    short_side: tuple[int, int]  # training-time random short-side range, before cropping
    fps: float
    image: bool = False

    @property
    def duration_seconds(self) -> float:
        return self.frames * self.stride / self.fps

    @classmethod
    def of(cls, point: Mapping[str, Value], *, fps: float, short_side_per_crop: tuple[float, float]) -> "ClipSpec":
        """The clip of a point with ``frames``, ``stride`` and ``crop`` axes, whose training short side is
        drawn from ``short_side_per_crop`` times the crop (X3D: 128/112 to 160/112)."""
        crop = int(point["crop"])
        low, high = short_side_per_crop
        return cls(
            frames=int(point["frames"]),
            stride=int(point["stride"]),
            crop=crop,
            short_side=(round(crop * low), round(crop * high)),
            fps=fps,
        )


class SearchSpace(ABC):
    """Axes, base point, presets and expansion operations of one family of networks."""

    #: Registry name, e.g. ``"x3d"``.
    name: str = ""
    #: Version of the space definition; changes whenever a point would build a different network.
    version: str = "1"
    #: One line for ``nas space list``.
    title: str = ""
    #: What ``nas search`` trains on when no ``--data`` is given (a ``--data`` spec: ``synth`` is the
    #: embedded synthetic action clips, ``synth-image`` the synthetic images), so each space brings its data.
    default_data: str = "synth"
    #: ``nas search``'s CPU proxy setting: base-network options (``"space"``), a compute target in GMACs
    #: (``"target_gflops"``) and the proxy training (``"schedule"``: ``ProxySchedule`` fields such as
    #: ``epochs`` and ``lr``); empty: the space as constructed, the common schedule, and ``--target-gflops``
    #: must be given.
    proxy_defaults: Mapping[str, Any] = MappingProxyType({})
    #: Modules or packages whose code builds this space's networks; their digest is part of a search's identity, so
    #: a change to a builder starts a new study instead of mixing networks (empty: the package of the class itself).
    source_modules: tuple[str, ...] = ()

    def __init__(
        self,
        axes: Sequence[Axis],
        presets: Mapping[str, Mapping[str, Value]] | None = None,
        operations: Sequence[Operation] | None = None,
        *,
        region: str = "full",
    ) -> None:
        self._axes = {axis.name: axis for axis in axes}
        if len(self._axes) != len(axes):
            raise SpaceError(f"duplicate axis names in {[a.name for a in axes]}")
        self._base = Point((axis.name, axis.base) for axis in axes)
        ops = operations if operations is not None else [AxisStep(axis.name) for axis in axes]
        self._operations = {op.name: op for op in ops}
        self.region = check_region(region)
        if self.region == "expansion":
            self._axes = {
                name: _expansion_side(axis, self.expansion_directions().get(name)) for name, axis in self._axes.items()
            }
        self._presets = {
            name: self.point(values)
            for name, values in (presets or {}).items()
            if self.region == "full" or self._in_region(values)
        }

    # -- the region a space searches ------------------------------------------------------
    def expansion_directions(self) -> dict[str, int]:
        """How the space's operations move each axis from the base: +1 up its ladder, -1 down (X3D's stride).

        Read at the base: axes no operation moves from there (X3D's stride when the base stride is already 1)
        are left out, and the expansion region keeps them whole; an axis two operations move in opposite
        directions is a space definition error.
        """
        directions: dict[str, int] = {}
        for operation in self._operations.values():
            for name, value in (operation.expand(self._axes, self._base) or {}).items():
                if value == self._base[name]:
                    continue
                direction = 1 if value > self._base[name] else -1
                if directions.setdefault(name, direction) != direction:
                    raise SpaceError(
                        f"space {self.name!r}: operations move axis {name!r} both up and down from the "
                        "base, so it has no expansion side"
                    )
        return directions

    def region_settings(self) -> dict[str, str]:
        """The region as a constructor setting, for :meth:`settings` (nothing for the full space: old identities)."""
        return {} if self.region == "full" else {"region": self.region}

    def _in_region(self, values: Mapping[str, object]) -> bool:
        try:
            self.point(values)
        except InvalidPointError:
            return False
        return True

    def code_digest(self) -> str:
        """A digest of the code that builds this space's networks (see :attr:`source_modules`)."""
        from .code_digest import code_digest

        package = type(self).__module__.rpartition(".")[0] or type(self).__module__
        return code_digest(tuple(self.source_modules) or (package,))

    # -- structure ----------------------------------------------------------
    @property
    def axes(self) -> tuple[Axis, ...]:
        return tuple(self._axes.values())

    @property
    def axis_names(self) -> tuple[str, ...]:
        return tuple(self._axes)

    def axis(self, name: str) -> Axis:
        try:
            return self._axes[name]
        except KeyError:
            raise unknown_name(
                "axis", name, list(self._axes), where=f"space {self.name!r}", error=UnknownAxisError
            ) from None

    @property
    def base(self) -> Point:
        return self._base

    @property
    def largest(self) -> Point:
        """Every axis at its top: the costliest network of the space (a bound for targets)."""
        return self.point({axis.name: axis.high for axis in self.axes})

    @property
    def presets(self) -> Mapping[str, Point]:
        return dict(self._presets)

    def preset_name(self, name: str) -> str:
        """The canonical spelling of a preset name, matched case-insensitively (``xs`` -> ``XS``)."""
        for known in self._presets:
            if known.lower() == str(name).lower():
                return known
        raise unknown_name("preset", name, list(self._presets), where=f"space {self.name!r}")

    def preset(self, name: str) -> Point:
        return self._presets[self.preset_name(name)]

    @property
    def operations(self) -> tuple[Operation, ...]:
        return tuple(self._operations.values())

    def operation(self, name: str | Operation) -> Operation:
        if isinstance(name, Operation):
            return name
        key = str(name).lower()
        for op in self._operations.values():
            if key in (op.name.lower(), op.label.lower()):
                return op
        raise unknown_name("operation", name, list(self._operations), where=f"space {self.name!r}")

    # -- points -------------------------------------------------------------
    def point(self, values: Mapping[str, object] | Point | None = None, /, **coordinates: object) -> Point:
        """Validate coordinates into a canonical :class:`Point`; axes not given take the base value."""
        merged = dict(coerce_mapping(values or {}))
        merged.update(coordinates)
        unknown = [name for name in merged if name not in self._axes]
        if unknown:
            raise unknown_name(
                "axis", unknown[0], list(self._axes), where=f"space {self.name!r}", error=UnknownAxisError
            )
        point = Point(
            (name, axis.validate(merged[name]) if name in merged else axis.base) for name, axis in self._axes.items()
        )
        self.check(point)
        return point

    def validate(self, point: Mapping[str, object] | Point) -> Point:
        """Like :meth:`point`, but every axis must be given."""
        missing = [name for name in self._axes if name not in point]
        if missing:
            raise InvalidPointError(f"point of space {self.name!r} is missing axis {missing[0]!r}")
        return self.point(point)

    def check(self, point: Point) -> None:
        """Cross-axis constraints of the space; raise :class:`InvalidPointError`. None by default."""

    def parse_point(self, text: str) -> Point:
        """Parse ``"frames=16,stride=5,crop=224"`` (axes not given take the base value)."""
        values: dict[str, Value] = {}
        for item in filter(None, (part.strip() for part in str(text).split(","))):
            name, sep, raw = item.partition("=")
            name = name.strip()
            if not sep or not name or not raw.strip():
                raise InvalidPointError(
                    f"malformed point {text!r}: {item!r} is not AXIS=VALUE (example: {self.base.key})"
                )
            if name in values:
                raise InvalidPointError(f"malformed point {text!r}: axis {name!r} given twice")
            values[name] = self.axis(name).parse(raw)
        if not values:
            raise InvalidPointError(f"malformed point {text!r}: no AXIS=VALUE pairs (example: {self.base.key})")
        return self.point(values)

    # -- moves -------------------------------------------------------------
    def _apply(self, point: Point, changes: dict[str, Value] | None) -> Point | None:
        if changes is None:
            return None
        try:
            return self.point(point, **changes)
        except InvalidPointError:
            return None

    def expand(self, point: Point, operation: str | Operation) -> Point:
        """One expansion step of ``operation``; raises :class:`ExpansionError` where it does not apply."""
        op = self.operation(operation)
        result = self._apply(point, op.expand(self._axes, self.point(point)))
        if result is None:
            raise ExpansionError(f"{op.label} cannot expand {point.key}: the end of its ladder is reached")
        return result

    def contract(self, point: Point, operation: str | Operation) -> Point:
        """One contraction step of ``operation`` (the inverse of :meth:`expand` on the ladder)."""
        op = self.operation(operation)
        result = self._apply(point, op.contract(self._axes, self.point(point)))
        if result is None:
            raise ExpansionError(f"{op.label} cannot contract {point.key}: the bottom of its ladder is reached")
        return result

    def contractions(self, point: Point, operation: str | Operation) -> list[Point]:
        """Contractions by less than one step, largest first, then the full step.

        Backward contraction walks this list until a point fits the budget
        (X3D-S is 16 frames contracted to 13).  Empty where no contraction applies.
        """
        op = self.operation(operation)
        point = self.point(point)
        changes = op.partial_contractions(self._axes, point) + [op.contract(self._axes, point)]
        results = [self._apply(point, change) for change in changes]
        return list(dict.fromkeys(p for p in results if p is not None and p != point))

    def can_expand(self, point: Point, operation: str | Operation) -> bool:
        op = self.operation(operation)
        return self._apply(point, op.expand(self._axes, point)) is not None

    def expansions(self, point: Point) -> dict[str, Point]:
        """One candidate per applicable operation: what a coordinate-expansion step trains."""
        point = self.point(point)
        candidates = {op.name: self._apply(point, op.expand(self._axes, point)) for op in self.operations}
        return {name: p for name, p in candidates.items() if p is not None}

    def neighbours(self, point: Point) -> list[Point]:
        """Points one operation step away, up or down, without repeats, in operation order."""
        point = self.point(point)
        found: list[Point] = []
        for op in self.operations:
            for changes in (op.expand(self._axes, point), op.contract(self._axes, point)):
                neighbour = self._apply(point, changes)
                if neighbour is not None and neighbour != point and neighbour not in found:
                    found.append(neighbour)
        return found

    # -- sampling and enumeration -------------------------------------------
    def sample(self, rng: random.Random, on_ladder: bool = True) -> Point:
        """A random valid point: ladder levels (the discretised space) or anywhere in range."""
        for _ in range(1000):
            try:
                return self.point({axis.name: axis.sample(rng, on_ladder) for axis in self.axes})
            except InvalidPointError:
                continue
        raise SpaceError(f"space {self.name!r}: could not sample a valid point in 1000 tries")

    def grid(self) -> Iterator[Point]:
        """Every valid combination of ladder levels: the discretised space strategies move on."""
        for values in itertools.product(*(axis.ladder for axis in self.axes)):
            point = Point(zip(self.axis_names, values))
            try:
                self.check(point)
            except InvalidPointError:
                continue
            yield point

    def grid_size(self) -> int:
        """Number of ladder combinations (an upper bound on ``len(list(grid()))``)."""
        return math.prod(len(axis.ladder) for axis in self.axes)

    # -- numeric encodings and library exports ---------------------------------
    def encode(self, point: Point) -> tuple[float, ...]:
        """A numeric vector in [0, 1]^d for predictors (log-scaled where the axis is)."""
        point = self.validate(point)
        return tuple(axis.encode(point[axis.name]) for axis in self.axes)

    def decode(self, vector: Sequence[float]) -> Point:
        """The point nearest to an encoded vector (the inverse of :meth:`encode`)."""
        if len(vector) != len(self._axes):
            raise InvalidPointError(f"vector of length {len(vector)} for a space of {len(self._axes)} axes")
        return self.point({axis.name: axis.decode(code) for axis, code in zip(self.axes, vector)})

    def to_optuna(self, on_ladder: bool = True) -> dict[str, Any]:
        """Optuna distributions: categorical over ladder levels, or the full range (log-scaled)."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        def distribution(axis: Axis):
            if on_ladder:
                return CategoricalDistribution(list(axis.ladder))
            if axis.integer:
                return IntDistribution(int(axis.low), int(axis.high), log=axis.log)
            return FloatDistribution(float(axis.low), float(axis.high), log=axis.log)

        return {axis.name: distribution(axis) for axis in self.axes}

    def to_nni(self, on_ladder: bool = True) -> dict[str, dict[str, Any]]:
        """NNI search-space JSON: ``choice`` over ladder levels, or (q)loguniform over the range."""

        def entry(axis: Axis) -> dict[str, Any]:
            if on_ladder:
                return {"_type": "choice", "_value": list(axis.ladder)}
            kind = "log" if axis.log else ""
            if axis.integer:
                return {"_type": f"q{kind}uniform", "_value": [axis.low, axis.high, 1]}
            return {"_type": f"{kind}uniform", "_value": [axis.low, axis.high]}

        return {axis.name: entry(axis) for axis in self.axes}

    def from_params(self, params: Mapping[str, Any]) -> Point:
        """Decode an Optuna trial's or an NNI tuner's parameters back into a point.

        Accepts numpy scalars, and floats on integer axes (NNI's quantised
        distributions return ``13.0``), rounding those to the nearest whole number.
        """
        values: dict[str, Value] = {}
        for name, raw in params.items():
            axis = self.axis(name)
            value = raw.item() if hasattr(raw, "item") else raw
            if axis.integer and isinstance(value, float) and math.isfinite(value):
                value = round(value)
            values[name] = value
        return self.validate(values)

    def settings(self) -> dict[str, Any]:
        """The constructor settings that make this instance (JSON-ready);
        ``get_space(name, **settings)`` rebuilds it."""
        return {}

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description: axes, ladders, presets, operations, version, settings."""
        return {
            "space": self.name,
            "version": self.version,
            "settings": self.settings(),
            "axes": [
                {
                    "name": axis.name,
                    "symbol": axis.symbol,
                    "type": "int" if axis.integer else "float",
                    "low": axis.low,
                    "high": axis.high,
                    "base": axis.base,
                    "ladder": list(axis.ladder),
                    "log": axis.log,
                    "description": axis.description,
                }
                for axis in self.axes
            ],
            "base": self.base.key,
            "presets": {name: point.key for name, point in self._presets.items()},
            "operations": [{"name": op.name, "label": op.label} for op in self.operations],
        }

    def summary_rows(self, point: Point, num_classes: int | None = None) -> list[dict[str, Any]]:
        """Rows for ``nas space show``, one per part of the network; by default the whole network."""
        cost = self.complexity(point, num_classes)
        return [{"part": "network", "macs": cost.macs, "params": cost.params}]

    # -- what only a concrete space knows -------------------------------------
    @abstractmethod
    def complexity(self, point: Point, num_classes: int | None = None) -> Complexity:
        """Analytic MACs/params/activations at the point's training input, without building it."""

    @abstractmethod
    def build(self, point: Point, num_classes: int | None = None) -> "torch.nn.Module":
        """The ``nn.Module`` the point describes (torch is imported only here)."""

    #: How a candidate starts from its parent's trained weights, per operation: ``copy`` (the same network: only
    #: the input changes), ``widen`` or ``deepen`` (grown without changing what it computes). An operation not
    #: listed, and every operation of a space that lists none, trains its candidates from scratch.
    weight_transfer: Mapping[str, str] = MappingProxyType({})

    def grow_weights(
        self, parent: Point, parent_state: "Mapping[str, torch.Tensor]", child: "torch.nn.Module", *, seed: int = 0
    ) -> "dict[str, torch.Tensor]":
        """``child``'s initial state dict grown from the trained ``parent_state`` of ``parent``.

        Raises :class:`~spaces.errors.InheritanceError` where no function-preserving rule applies (a contraction
        that narrows or drops layers, or a space without rules): that candidate trains from scratch.
        """
        raise InheritanceError(
            f"space {self.name!r} cannot grow trained weights into a candidate; it trains from scratch"
        )

    @abstractmethod
    def input_shape(self, point: Point, batch: int = 1) -> tuple[int, ...]:
        """The input tensor shape the complexity is counted at."""

    @abstractmethod
    def clip_spec(self, point: Point) -> ClipSpec:
        """What the point reads from a clip cache."""


#: The regions a space can search: all of its axes' ranges, or only the side of each axis its expansion
#: operations move to from the base (every point a coordinate expansion can reach).
REGIONS = ("full", "expansion")


def check_region(region: object) -> str:
    """``region`` if it names a region, else a :class:`SpaceError` naming the choices."""
    if region not in REGIONS:
        raise SpaceError(
            f"region {region!r} is not one of: {', '.join(REGIONS)} (the expansion region keeps each "
            "axis on the side of its base that the space's expansions move to)"
        )
    return str(region)


def _expansion_side(axis: Axis, direction: int | None) -> Axis:
    """``axis`` cut at its base to the side ``direction`` points to (unchanged where no operation moves it)."""
    if direction is None:
        return axis
    if direction > 0:
        return dataclasses.replace(axis, low=axis.base, ladder=tuple(v for v in axis.ladder if v >= axis.base))
    return dataclasses.replace(axis, high=axis.base, ladder=tuple(v for v in axis.ladder if v <= axis.base))
