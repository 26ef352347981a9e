"""The image network's builders beside their complexity functions.

Only the stem is the image network's own (one k x k conv with a spatial
stride, BN, ReLU: X3D's stem without its temporal conv); the stages and the
head are X3D's rank-generic builders with 2D layers, counted by the same
functions (pycls style: the builder and its twin share every rounding).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..complexity import Complexity, Shape2d, batchnorm_complexity, conv_complexity
from ..x3d.blocks import (
    LayerTypes,
    PartComplexity,
    create_network,
    network_parts,
    total_complexity,
)
from .network import ImageArchitecture

if TYPE_CHECKING:  # pragma: no cover - typing only
    from torch import nn

#: The layers of an image network: X3D's defaults in 2D (Conv2d, BatchNorm2d, AdaptiveAvgPool2d).
IMAGE_LAYERS = LayerTypes(dims=2)


def _stem_geometry(kernel: int, stride: int) -> dict[str, tuple[int, int]]:
    """k x k conv with a spatial stride and 'same' padding."""
    return {"kernel": (kernel, kernel), "stride": (stride, stride), "padding": (kernel // 2, kernel // 2)}


def create_image_stem(
    *, in_channels: int, out_channels: int, kernel: int, stride: int, layers: LayerTypes = IMAGE_LAYERS
) -> "nn.Module":
    """k x k conv (no bias) with a spatial stride, then BN and ReLU."""
    from torch import nn

    layers = layers.resolved()
    geometry = _stem_geometry(kernel, stride)
    conv = layers.conv(
        in_channels,
        out_channels,
        geometry["kernel"],
        stride=geometry["stride"],
        padding=geometry["padding"],
        bias=False,
    )
    return nn.Sequential(conv, layers.norm(out_channels), layers.activation(inplace=True))


def image_stem_complexity(
    *, in_shape: Shape2d, out_channels: int, kernel: int, stride: int
) -> tuple[Complexity, Shape2d]:
    cost, shape = conv_complexity(in_shape=in_shape, out_channels=out_channels, **_stem_geometry(kernel, stride))
    return cost + batchnorm_complexity(out_channels), shape  # type: ignore[return-value]


def _stem_arguments(arch: ImageArchitecture) -> dict[str, int]:
    return {"out_channels": arch.stem_width, "kernel": arch.stem_kernel, "stride": arch.stages[0].spatial_stride}


def create_image_network(*, arch: ImageArchitecture, layers: LayerTypes = IMAGE_LAYERS) -> "nn.Module":
    """Build the network an :class:`ImageArchitecture` describes: input (batch, 3, crop, crop)."""
    stem = create_image_stem(in_channels=arch.in_channels, layers=layers, **_stem_arguments(arch))
    return create_network(arch=arch, stem=stem, layers=layers)


def image_complexity_parts(arch: ImageArchitecture) -> list[PartComplexity]:
    """Stem, each stage and the head, in order, each with its cost and output shape."""
    return network_parts(arch, image_stem_complexity(in_shape=arch.input_shape, **_stem_arguments(arch)))


def image_complexity(arch: ImageArchitecture) -> Complexity:
    """Total analytic complexity of an image network."""
    return total_complexity(image_complexity_parts(arch))
