"""The X3D search space (Feichtenhofer, CVPR 2020): six expansion axes from X2D.

Coordinates are concrete and in the paper's units: ``frames``, sampling
``stride`` (in source frames), training ``crop``, and the multipliers
``width`` (gamma_w), ``bottleneck`` (gamma_b) and ``depth`` (gamma_d); X2D has
all multipliers at 1.  The six operations are the paper's X-Fast, X-Temporal,
X-Spatial, X-Width, X-Bottleneck and X-Depth.  Ladders and presets are derived
from the base network, so a proxy setting (another base crop or stride)
scales them instead of restating them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ..axis import Axis, Value
from ..complexity import Complexity
from ..errors import InvalidPointError, SpaceError
from ..operations import AxisStep, Operation
from ..point import Point
from ..space import ClipSpec, SearchSpace
from .blocks import (
    LayerTypes,
    PartComplexity,
    create_x3d,
    x3d_complexity,
    x3d_complexity_parts,
)
from .inherit import X3D_WEIGHT_TRANSFER, grow_into
from .network import BodyArchitecture, X3DArchitecture, X3DBase, derive_architecture
from .rounding import round_to_multiple

# -- ranges a point may take (any value inside is valid) ------------------------
FRAMES_RANGE = (1, 64)
STRIDE_RANGE = (1, 48)
CROP_RANGE = (16, 448)
WIDTH_RANGE = (0.5, 4.0)
BOTTLENECK_RANGE = (1.0, 9.0)
DEPTH_RANGE = (1.0, 11.0)

# -- ladders: the published levels first, then the same factor onward -----------
#: Crop levels of the released models relative to the base crop (112 -> 160 -> 224 -> 312);
#: beyond the last, and below the base, the factor is sqrt(2).
SPATIAL_PUBLISHED_MULTIPLIERS = (1.0, 160 / 112, 224 / 112, 312 / 112)
SPATIAL_STEP = math.sqrt(2)
CROP_MULTIPLE = 8
WIDTH_STEP = math.sqrt(2)
BOTTLENECK_PUBLISHED = (1.0, 2.25)
BOTTLENECK_STEP = 2.0
DEPTH_PUBLISHED = (1.0, 2.2, 5.0)
DEPTH_STEP = 2.2

#: Presets relative to X2D: frames, stride as a fraction of the base stride,
#: crop as a multiple of the base crop, and the three multipliers.
PRESETS: dict[str, dict[str, float]] = {
    "X2D": {"frames": 1, "stride": 1.0, "spatial": 1.0, "width": 1.0, "bottleneck": 1.0, "depth": 1.0},
    "XS": {"frames": 4, "stride": 12 / 24, "spatial": 160 / 112, "width": 1.0, "bottleneck": 2.25, "depth": 2.2},
    "S": {"frames": 13, "stride": 6 / 24, "spatial": 160 / 112, "width": 1.0, "bottleneck": 2.25, "depth": 2.2},
    "M": {"frames": 16, "stride": 5 / 24, "spatial": 224 / 112, "width": 1.0, "bottleneck": 2.25, "depth": 2.2},
    "L": {"frames": 16, "stride": 5 / 24, "spatial": 312 / 112, "width": 1.0, "bottleneck": 2.25, "depth": 5.0},
}

#: Training short side is drawn from [128, 160] * gamma_s before a 112 * gamma_s crop.
SHORT_SIDE_RANGE_PER_CROP = (128 / 112, 160 / 112)


def _geometric(start: float, factor: float, low: float, high: float) -> list[float]:
    """start * factor^k for every k (both signs) that lands in [low, high]."""
    values, value = [], start
    while value <= high * (1 + 1e-9):
        values.append(value)
        value *= factor
    value = start / factor
    while value >= low * (1 - 1e-9):
        values.append(value)
        value /= factor
    return values


def _ladder(values: list[float], low: float, high: float, integer: bool) -> tuple[Value, ...]:
    kept = {round(v) if integer else round(v, 4) for v in values}
    return tuple(sorted(v for v in kept if low <= v <= high))


def crop_ladder(base_crop: int) -> tuple[int, ...]:
    published = [base_crop * m for m in SPATIAL_PUBLISHED_MULTIPLIERS]
    onward = _geometric(published[-1], SPATIAL_STEP, published[-1], CROP_RANGE[1])
    below = _geometric(base_crop, SPATIAL_STEP, CROP_RANGE[0], base_crop)
    levels = [round_to_multiple(v, CROP_MULTIPLE) for v in published + onward + below]
    return _ladder(levels, *CROP_RANGE, integer=True)


def stride_ladder(base_stride: int) -> tuple[int, ...]:
    """Halvings of the base stride (X-Fast), rounded to whole frames, and doublings up to the range."""
    halvings = [max(1, round(base_stride / 2**k)) for k in range(0, 12)]
    return _ladder(halvings + _geometric(base_stride, 2, base_stride, STRIDE_RANGE[1]), *STRIDE_RANGE, integer=True)


def multiplier_ladder(published: tuple[float, ...], step: float, low: float, high: float) -> tuple[float, ...]:
    return _ladder(list(published) + _geometric(published[-1], step, published[-1], high), low, high, integer=False)


@dataclass(frozen=True)
class FastStep(Operation):
    """X-Fast: a higher frame rate over the same clip duration (frames x2, stride /2)."""

    name: str = "fast"
    label: str = "X-Fast"

    def expand(self, axes: Mapping[str, Axis], point: Point) -> dict[str, Value] | None:
        frames, stride = axes["frames"].step_up(point["frames"]), axes["stride"].step_down(point["stride"])
        return None if frames is None or stride is None else {"frames": frames, "stride": stride}

    def contract(self, axes: Mapping[str, Axis], point: Point) -> dict[str, Value] | None:
        frames, stride = axes["frames"].step_down(point["frames"]), axes["stride"].step_up(point["stride"])
        return None if frames is None or stride is None else {"frames": frames, "stride": stride}

    def partial_contractions(self, axes: Mapping[str, Axis], point: Point) -> list[dict[str, Value]]:
        """Fewer frames at a stride that keeps the clip duration: 16x6 -> 15x6, 14x7, 13x7, ..."""
        full = self.contract(axes, point)
        if full is None:
            return []
        duration = point["frames"] * point["stride"]
        stride_axis = axes["stride"]
        return [
            {"frames": frames, "stride": min(max(round(duration / frames), stride_axis.low), stride_axis.high)}
            for frames in axes["frames"].between(point["frames"], full["frames"])
        ]


#: X-Spatial: the crop about x sqrt(2) (shared by the clip and the spatial operations).
X_SPATIAL = AxisStep("crop", name="spatial", label="X-Spatial")


def clip_operations() -> tuple[Operation, ...]:
    """X-Fast, X-Temporal and X-Spatial: the paper's moves of the clip,
    for any space with frames, stride and crop axes."""
    return (FastStep(), AxisStep("frames", name="temporal", label="X-Temporal"), X_SPATIAL)


def spatial_operations() -> tuple[Operation, ...]:
    """X-Spatial, X-Width, X-Bottleneck and X-Depth: the operations a network without time has too."""
    return (
        X_SPATIAL,
        AxisStep("width", name="width", label="X-Width"),
        AxisStep("bottleneck", name="bottleneck", label="X-Bottleneck"),
        AxisStep("depth", name="depth", label="X-Depth"),
    )


def x3d_operations() -> tuple[Operation, ...]:
    """The paper's six expansion operations, in the order its Figure 2 lists them."""
    return (*clip_operations(), *spatial_operations()[1:])


def spatial_axes(base_crop: int) -> list[Axis]:
    """Crop, width, bottleneck and depth: X3D's axes that do not involve time (shared with the image space)."""
    return [
        Axis(
            "crop",
            True,
            *CROP_RANGE,
            base=base_crop,
            ladder=crop_ladder(base_crop),
            quantum=CROP_MULTIPLE,
            symbol="γs",
            description="training crop in pixels (X-Spatial: about x sqrt(2), multiples of 8)",
        ),
        Axis(
            "width",
            False,
            *WIDTH_RANGE,
            base=1.0,
            ladder=_ladder(_geometric(1.0, WIDTH_STEP, *WIDTH_RANGE), *WIDTH_RANGE, False),
            symbol="γw",
            description="channel multiplier of every layer (1 = 24-channel stem)",
        ),
        Axis(
            "bottleneck",
            False,
            *BOTTLENECK_RANGE,
            base=1.0,
            ladder=multiplier_ladder(BOTTLENECK_PUBLISHED, BOTTLENECK_STEP, *BOTTLENECK_RANGE),
            symbol="γb",
            description="inner width of each block's depthwise conv / output width",
        ),
        Axis(
            "depth",
            False,
            *DEPTH_RANGE,
            base=1.0,
            ladder=multiplier_ladder(DEPTH_PUBLISHED, DEPTH_STEP, *DEPTH_RANGE),
            symbol="γd",
            description="blocks per stage = ceil(depth * [1, 2, 5, 3])",
        ),
    ]


def spatial_preset(base_crop: int, preset: Mapping[str, float]) -> dict[str, Value]:
    """Crop (a multiple of the base crop, rounded to 8), width, bottleneck and depth of a relative preset."""
    return {
        "crop": round_to_multiple(base_crop * preset["spatial"], CROP_MULTIPLE),
        "width": preset["width"],
        "bottleneck": preset["bottleneck"],
        "depth": preset["depth"],
    }


def check_num_classes(num_classes: int | None) -> int | None:
    """A classifier size given by a user: a whole number >= 1 (None: the base network's)."""
    if num_classes is None:
        return None
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise InvalidPointError(f"num_classes must be a whole number >= 1, got {num_classes!r}")
    return num_classes


def architecture_rows(arch: BodyArchitecture, parts: list[PartComplexity]) -> list[dict[str, Any]]:
    """``nas space show`` rows of an X3D-style network (video or image): stem, stages, head."""
    stage_rows = {s.name: s for s in arch.stages}
    rows = []
    for part in parts:
        stage = stage_rows.get(part.name)
        row: dict[str, Any] = {"part": part.name}
        if part.name == "stem":
            row.update(blocks="-", width=arch.stem_width, inner="-", se="-")
        elif stage is not None:
            row.update(
                blocks=stage.blocks,
                width=stage.out_width,
                inner=stage.inner_width,
                se=f"{stage.se_width}x{sum(stage.se_blocks)}" if stage.se_width else "-",
            )
        else:
            row.update(blocks="-", width=f"{arch.conv5_width}>{arch.head_width}", inner="-", se="-")
        row.update(output="x".join(map(str, part.out_shape)), macs=part.cost.macs, params=part.cost.params)
        rows.append(row)
    return rows


def build_initialised(create: Callable[[], Any]) -> Any:
    """A network from ``create()``, with X3D's initial weights unless it was built on the meta device."""
    from .init import init_weights

    model = create()
    if not next(model.parameters()).is_meta:  # shapes only on meta: nothing to initialise
        init_weights(model)
    return model


class X3DSpace(SearchSpace):
    """The X3D space over a configurable base network (Kinetics X2D by default).

    >>> space = X3DSpace()
    >>> space.preset("XS").key
    'frames=4,stride=12,crop=160,width=1,bottleneck=2.25,depth=2.2'
    >>> round(space.complexity(space.preset("XS")).macs / 1e9, 3)
    0.605
    """

    name = "x3d"
    version = "1"
    source_modules = ("spaces.x3d", "spaces.axis", "spaces.point", "spaces.complexity")
    title = (
        "X3D video networks (Feichtenhofer, CVPR 2020): expand X2D along frames, stride, crop, width, bottleneck, depth"
    )
    #: The proxy setting sized for a 2-core CPU: X2D with stages of 1, 1, 2, 1 blocks at a 48^2 base crop and a
    #: stride of 8 frames; the target leaves three expansion steps and a fourth that overshoots.
    proxy_defaults = {
        "space": {"base_crop": 48, "base_stride": 8, "stage_blocks": [1, 1, 2, 1], "head_width": 256, "dropout": 0.2},
        "target_gflops": 0.0125,
        "schedule": {"epochs": 6.0},
    }

    def __init__(self, base: X3DBase | None = None, *, region: str = "full", **base_settings: object) -> None:
        """``region="expansion"`` keeps only what expansions from the base reach: frames, crop, width, bottleneck
        and depth at or above the base, the stride at or below it (presets outside it are left out)."""
        self.base_network = (base or X3DBase()).replace(**base_settings) if base_settings else (base or X3DBase())
        b = self.base_network
        for label, value, (low, high) in (
            ("base_crop", b.base_crop, CROP_RANGE),
            ("base_stride", b.base_stride, STRIDE_RANGE),
        ):
            if not low <= value <= high:
                raise SpaceError(f"X3D base network: {label} = {value} is outside [{low}, {high}]")
        super().__init__(self._make_axes(b), self._make_presets(b), x3d_operations(), region=region)

    def settings(self) -> dict[str, object]:
        return {
            **{name: list(v) if isinstance(v, tuple) else v for name, v in self.base_network.__dict__.items()},
            **self.region_settings(),
        }

    @staticmethod
    def _make_axes(b: X3DBase) -> list[Axis]:
        return [
            Axis(
                "frames",
                True,
                *FRAMES_RANGE,
                base=1,
                ladder=_ladder(_geometric(1, 2, 1, FRAMES_RANGE[1]), *FRAMES_RANGE, True),
                symbol="γt",
                description="frames per clip (X-Temporal doubles it; X-Fast doubles it at half the stride)",
            ),
            Axis(
                "stride",
                True,
                *STRIDE_RANGE,
                base=b.base_stride,
                ladder=stride_ladder(b.base_stride),
                symbol="γτ",
                description=f"sampling stride in source frames at {b.fps:g} fps (X-Fast halves it)",
            ),
            *spatial_axes(b.base_crop),
        ]

    @staticmethod
    def _make_presets(b: X3DBase) -> dict[str, dict[str, Value]]:
        return {
            name: {
                "frames": int(p["frames"]),
                "stride": max(1, round(b.base_stride * p["stride"])),
                **spatial_preset(b.base_crop, p),
            }
            for name, p in PRESETS.items()
        }

    # -- concrete network -----------------------------------------------------
    def architecture(self, point: Point, num_classes: int | None = None) -> X3DArchitecture:
        """Every width, depth and shape of the network at ``point``."""
        return derive_architecture(self.point(point), self.base_network, check_num_classes(num_classes))

    def complexity(self, point: Point, num_classes: int | None = None) -> Complexity:
        return x3d_complexity(self.architecture(point, num_classes))

    def complexity_parts(self, point: Point, num_classes: int | None = None) -> list[PartComplexity]:
        return x3d_complexity_parts(self.architecture(point, num_classes))

    def summary_rows(self, point: Point, num_classes: int | None = None) -> list[dict[str, Any]]:
        arch = self.architecture(point, num_classes)
        return architecture_rows(arch, x3d_complexity_parts(arch))

    weight_transfer = MappingProxyType(X3D_WEIGHT_TRANSFER)

    def grow_weights(self, parent: Point, parent_state, child, *, seed: int = 0):
        """Net2Net: frames, stride and crop copy the parent; width and bottleneck widen it, depth deepens it."""
        return grow_into(self, parent, parent_state, child, seed=seed)

    def build(self, point: Point, num_classes: int | None = None, layers: LayerTypes = LayerTypes()):
        arch = self.architecture(point, num_classes)
        return build_initialised(lambda: create_x3d(arch=arch, layers=layers))

    def input_shape(self, point: Point, batch: int = 1) -> tuple[int, ...]:
        return (batch, *self.architecture(point).input_shape)

    def clip_spec(self, point: Point) -> ClipSpec:
        return ClipSpec.of(self.point(point), fps=self.base_network.fps, short_side_per_crop=SHORT_SIDE_RANGE_PER_CROP)
