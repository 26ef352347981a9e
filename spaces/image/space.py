"""The X2D image space: X3D's 2D counterpart, a MobileNet-style image network.

X3D expands a tiny 2D network, X2D, along six axes; four of them do not
involve time, and this space keeps exactly those: training ``crop``
(resolution), ``width``, ``bottleneck`` and ``depth``, with X3D's ranges,
ladders and rounding rules.  Its networks are built from 2D layers (a k x k
stem, then X3D's MBConv-like blocks: 1x1 expand, 3x3 depthwise, SE, Swish,
1x1 project) and read images, so a second space that differs from X3D in kind
runs through the same strategies, estimators and ledgers.  The default data
is the embedded synthetic image set (``synth-image``).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from ..axis import Value
from ..complexity import Complexity
from ..errors import SpaceError
from ..point import Point
from ..space import ClipSpec, SearchSpace
from ..x3d.blocks import LayerTypes, PartComplexity
from ..x3d.inherit import X3D_WEIGHT_TRANSFER, grow_into
from ..x3d.space import (
    CROP_RANGE,
    SHORT_SIDE_RANGE_PER_CROP,
    architecture_rows,
    build_initialised,
    check_num_classes,
    spatial_axes,
    spatial_operations,
    spatial_preset,
)
from .blocks import (
    IMAGE_LAYERS,
    create_image_network,
    image_complexity,
    image_complexity_parts,
)
from .network import ImageArchitecture, ImageBase, derive_image_architecture

#: Presets relative to the base network: crop as a multiple of the base crop, and the three multipliers.
#: They are X3D-S, M and L without their time axis (X3D's published crops, bottleneck and depth).
PRESETS: dict[str, dict[str, float]] = {
    "X2D": {"spatial": 1.0, "width": 1.0, "bottleneck": 1.0, "depth": 1.0},
    "S": {"spatial": 160 / 112, "width": 1.0, "bottleneck": 2.25, "depth": 2.2},
    "M": {"spatial": 224 / 112, "width": 1.0, "bottleneck": 2.25, "depth": 2.2},
    "L": {"spatial": 312 / 112, "width": 1.0, "bottleneck": 2.25, "depth": 5.0},
}

#: An image is served as a one-frame clip; the frame rate of that clip changes nothing.
IMAGE_FPS = 1.0


class X2DImageSpace(SearchSpace):
    """Image networks over a configurable base (ImageNet-style, 112-pixel X2D by default).

    >>> space = X2DImageSpace()
    >>> space.preset("S").key
    'crop=160,width=1,bottleneck=2.25,depth=2.2'
    >>> space.input_shape(space.preset("S"))
    (1, 3, 160, 160)
    """

    name = "x2d-image"
    version = "1"
    source_modules = ("spaces.image", "spaces.x3d", "spaces.axis", "spaces.point", "spaces.complexity")
    title = (
        "X2D image networks (X3D's 2D counterpart): "
        "expand a MobileNet-style network along crop, width, bottleneck, depth"
    )
    default_data = "synth-image"
    #: The CPU proxy setting: a 32^2 base crop, and a longer, gentler schedule than the video space's, which
    #: these networks need before candidates separate (see the README's "The X2D image space").
    proxy_defaults = {
        "space": {"base_crop": 32, "stage_blocks": [1, 1, 2, 1], "head_width": 256, "dropout": 0.2},
        "target_gflops": 0.012,
        "schedule": {"epochs": 6.0, "lr": 0.002},
    }

    def __init__(self, base: ImageBase | None = None, *, region: str = "full", **base_settings: object) -> None:
        """``region="expansion"``: crop, width, bottleneck and depth at or above the base only."""
        base = base or ImageBase()
        self.base_network = base.replace(**base_settings) if base_settings else base
        low, high = CROP_RANGE
        if not low <= self.base_network.base_crop <= high:
            raise SpaceError(
                f"image base network: base_crop = {self.base_network.base_crop} is outside [{low}, {high}]"
            )
        presets = {name: spatial_preset(self.base_network.base_crop, p) for name, p in PRESETS.items()}
        super().__init__(spatial_axes(self.base_network.base_crop), presets, spatial_operations(), region=region)

    def settings(self) -> dict[str, Value | list[int]]:
        return {
            **{name: list(v) if isinstance(v, tuple) else v for name, v in self.base_network.__dict__.items()},
            **self.region_settings(),
        }

    def architecture(self, point: Point, num_classes: int | None = None) -> ImageArchitecture:
        """Every width, depth and shape of the network at ``point``."""
        return derive_image_architecture(self.point(point), self.base_network, check_num_classes(num_classes))

    def complexity(self, point: Point, num_classes: int | None = None) -> Complexity:
        return image_complexity(self.architecture(point, num_classes))

    def complexity_parts(self, point: Point, num_classes: int | None = None) -> list[PartComplexity]:
        return image_complexity_parts(self.architecture(point, num_classes))

    def summary_rows(self, point: Point, num_classes: int | None = None) -> list[dict[str, Any]]:
        arch = self.architecture(point, num_classes)
        return architecture_rows(arch, image_complexity_parts(arch))

    weight_transfer = MappingProxyType(
        {op: rule for op, rule in X3D_WEIGHT_TRANSFER.items() if op not in ("fast", "temporal")}
    )

    def grow_weights(self, parent: Point, parent_state, child, *, seed: int = 0):
        """Net2Net: crop copies the parent; width and bottleneck widen it, depth deepens it."""
        return grow_into(self, parent, parent_state, child, seed=seed)

    def build(self, point: Point, num_classes: int | None = None, layers: LayerTypes = IMAGE_LAYERS):
        """A plain ``nn.Module`` of 2D layers taking ``(batch, 3, crop, crop)`` images."""
        if layers.dims != 2:
            raise SpaceError(
                f"space {self.name!r} builds 2D networks; its layer types need dims=2, got {layers.dims!r}"
            )
        arch = self.architecture(point, num_classes)
        return build_initialised(lambda: create_image_network(arch=arch, layers=layers))

    def input_shape(self, point: Point, batch: int = 1) -> tuple[int, ...]:
        return (batch, *self.architecture(point).input_shape)

    def clip_spec(self, point: Point) -> ClipSpec:
        crop = int(self.point(point)["crop"])
        low, high = SHORT_SIDE_RANGE_PER_CROP
        return ClipSpec(
            frames=1, stride=1, crop=crop, short_side=(round(crop * low), round(crop * high)), fps=IMAGE_FPS, image=True
        )
