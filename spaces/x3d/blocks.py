"""X3D builder functions, each with its analytic complexity function beside it.

Every ``create_*`` function has a ``*_complexity`` twin taking the same
architecture arguments (pycls style).  Builders are keyword-only and take the
layer types they use (conv, norm, pool, activation) so a user can swap them
without copying the network.  Torch is imported inside the builders only, so
counting complexity never pays for importing torch.

The squeeze-excitation, block, stage and head builders are rank-generic: with
``LayerTypes(dims=2)`` and a stage without a temporal kernel they build the
2D image counterpart of X3D (``spaces.image``), counted by the same functions
(the rank comes from the input shape), so the two networks cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..complexity import (
    Complexity,
    Shape,
    Shape3d,
    batchnorm_complexity,
    conv3d_complexity,
    conv_complexity,
    linear_complexity,
)
from ..errors import SpaceError
from .network import BodyArchitecture, StageSpec, X3DArchitecture

if TYPE_CHECKING:  # pragma: no cover - typing only
    from torch import nn


@dataclass(frozen=True)
class LayerTypes:
    """The layer classes a network is built from; ``None`` means X3D's defaults for ``dims``.

    ``dims`` is 3 for video networks (convolutions over time x height x width)
    and 2 for image networks; it picks the default conv, norm and pool classes.
    """

    norm: "type[nn.Module] | None" = None  # BatchNorm3d / BatchNorm2d
    activation: "type[nn.Module] | None" = None  # ReLU
    inner_activation: "type[nn.Module] | None" = None  # Swish (SiLU)
    dims: int = 3
    conv: "type[nn.Module] | None" = None  # Conv3d / Conv2d
    pool: "type[nn.Module] | None" = None  # AdaptiveAvgPool3d / AdaptiveAvgPool2d (SE and head)

    def resolved(self) -> "LayerTypes":
        from torch import nn

        defaults = {
            2: (nn.Conv2d, nn.BatchNorm2d, nn.AdaptiveAvgPool2d),
            3: (nn.Conv3d, nn.BatchNorm3d, nn.AdaptiveAvgPool3d),
        }
        if self.dims not in defaults:
            raise SpaceError(f"layer types: dims must be 2 (images) or 3 (videos), got {self.dims!r}")
        conv, norm, pool = defaults[self.dims]
        return LayerTypes(
            norm=self.norm or norm,
            activation=self.activation or nn.ReLU,
            inner_activation=self.inner_activation or nn.SiLU,
            dims=self.dims,
            conv=self.conv or conv,
            pool=self.pool or pool,
        )


def _spatial_geometry(kernel: int, stride: int) -> dict[str, tuple[int, int, int]]:
    """1 x k x k conv with spatial stride and 'same' padding (the stem's spatial conv)."""
    return {"kernel": (1, kernel, kernel), "stride": (1, stride, stride), "padding": (0, kernel // 2, kernel // 2)}


def _temporal_geometry(kernel: int) -> dict[str, tuple[int, int, int]]:
    """k x 1 x 1 conv with 'same' temporal padding (the stem's depthwise temporal conv)."""
    return {"kernel": (kernel, 1, 1), "stride": (1, 1, 1), "padding": (kernel // 2, 0, 0)}


def _depthwise_geometry(kernel: tuple[int, ...], spatial_stride: int) -> dict[str, tuple[int, ...]]:
    """The block's (t x) k x k depthwise conv: 'same' padding, stride on the two spatial dimensions only."""
    return {
        "kernel": kernel,
        "stride": (1,) * (len(kernel) - 2) + (spatial_stride, spatial_stride),
        "padding": tuple(k // 2 for k in kernel),
    }


def _pointwise(dims: int) -> tuple[int, ...]:
    """A 1 x 1 (x 1) kernel over ``dims`` dimensions."""
    return (1,) * dims


def _conv(
    in_channels: int,
    out_channels: int,
    kernel,
    *,
    stride=1,
    padding=0,
    groups: int = 1,
    bias: bool = False,
    conv: "type[nn.Module] | None" = None,
):
    from torch import nn

    return (conv or nn.Conv3d)(
        in_channels, out_channels, kernel, stride=stride, padding=padding, groups=groups, bias=bias
    )


# -- stem -------------------------------------------------------------------
def create_stem(
    *,
    in_channels: int,
    out_channels: int,
    spatial_kernel: int,
    temporal_kernel: int,
    spatial_stride: int,
    layers: LayerTypes,
):
    from .modules import X3DStem

    layers = layers.resolved()
    xy, t = _spatial_geometry(spatial_kernel, spatial_stride), _temporal_geometry(temporal_kernel)
    return X3DStem(
        conv_xy=_conv(in_channels, out_channels, xy["kernel"], stride=xy["stride"], padding=xy["padding"]),
        conv_t=_conv(out_channels, out_channels, t["kernel"], padding=t["padding"], groups=out_channels),
        norm=layers.norm(out_channels),
        act=layers.activation(inplace=True),
    )


def stem_complexity(
    *, in_shape: Shape3d, out_channels: int, spatial_kernel: int, temporal_kernel: int, spatial_stride: int
) -> tuple[Complexity, Shape3d]:
    xy, shape = conv3d_complexity(
        in_shape=in_shape, out_channels=out_channels, **_spatial_geometry(spatial_kernel, spatial_stride)
    )
    t, shape = conv3d_complexity(
        in_shape=shape, out_channels=out_channels, groups=out_channels, **_temporal_geometry(temporal_kernel)
    )
    return xy + t + batchnorm_complexity(out_channels), shape


# -- squeeze-excitation ---------------------------------------------------------
def create_squeeze_excitation(*, channels: int, reduced: int, layers: LayerTypes):
    from .modules import SqueezeExcitation

    layers = layers.resolved()
    return SqueezeExcitation(
        channels=channels, reduced=reduced, activation=layers.activation, conv=layers.conv, pool=layers.pool
    )


def squeeze_excitation_complexity(*, channels: int, reduced: int, dims: int = 3) -> Complexity:
    pooled: Shape = (channels, *_pointwise(dims))
    fc1, reduced_shape = conv_complexity(in_shape=pooled, out_channels=reduced, kernel=_pointwise(dims), bias=True)
    fc2, _ = conv_complexity(in_shape=reduced_shape, out_channels=channels, kernel=_pointwise(dims), bias=True)
    return fc1 + fc2


# -- block -------------------------------------------------------------------
def _needs_projection(in_channels: int, out_channels: int, spatial_stride: int) -> bool:
    return in_channels != out_channels or spatial_stride != 1


def create_block(
    *,
    in_channels: int,
    inner_channels: int,
    out_channels: int,
    spatial_stride: int,
    kernel: tuple[int, ...],
    se_channels: int,
    layers: LayerTypes,
):
    """One X3D block; ``se_channels`` = 0 builds it without squeeze-excitation.

    ``kernel`` is the depthwise kernel: (t, k, k) in a video network, (k, k) in an image network.
    """
    from torch import nn

    from .modules import X3DBlock

    layers = layers.resolved()
    conv = layers.conv
    depthwise = _depthwise_geometry(kernel, spatial_stride)
    out_norm = layers.norm(out_channels)
    nn.init.zeros_(out_norm.weight)  # the residual branch starts as identity
    branch = [
        _conv(in_channels, inner_channels, 1, conv=conv),
        layers.norm(inner_channels),
        layers.activation(inplace=True),
        _conv(
            inner_channels,
            inner_channels,
            depthwise["kernel"],
            stride=depthwise["stride"],
            padding=depthwise["padding"],
            groups=inner_channels,
            conv=conv,
        ),
        layers.norm(inner_channels),
    ]
    if se_channels:
        branch.append(create_squeeze_excitation(channels=inner_channels, reduced=se_channels, layers=layers))
    branch += [layers.inner_activation(), _conv(inner_channels, out_channels, 1, conv=conv), out_norm]
    shortcut = None
    if _needs_projection(in_channels, out_channels, spatial_stride):
        shortcut = nn.Sequential(
            _conv(in_channels, out_channels, 1, stride=depthwise["stride"], conv=conv), layers.norm(out_channels)
        )
    return X3DBlock(branch=nn.Sequential(*branch), shortcut=shortcut, act=layers.activation(inplace=True))


def block_complexity(
    *,
    in_shape: Shape,
    inner_channels: int,
    out_channels: int,
    spatial_stride: int,
    kernel: tuple[int, ...],
    se_channels: int,
) -> tuple[Complexity, Shape]:
    dims = len(in_shape) - 1
    depthwise = _depthwise_geometry(kernel, spatial_stride)
    a, shape = conv_complexity(in_shape=in_shape, out_channels=inner_channels, kernel=_pointwise(dims))
    b, shape = conv_complexity(in_shape=shape, out_channels=inner_channels, groups=inner_channels, **depthwise)
    c, out_shape = conv_complexity(in_shape=shape, out_channels=out_channels, kernel=_pointwise(dims))
    total = a + b + c + batchnorm_complexity(inner_channels) * 2 + batchnorm_complexity(out_channels)
    if se_channels:
        total = total + squeeze_excitation_complexity(channels=inner_channels, reduced=se_channels, dims=dims)
    if _needs_projection(in_shape[0], out_channels, spatial_stride):
        projection, _ = conv_complexity(
            in_shape=in_shape, out_channels=out_channels, kernel=_pointwise(dims), stride=depthwise["stride"]
        )
        total = total + projection + batchnorm_complexity(out_channels)
    return total, out_shape


# -- stage -------------------------------------------------------------------
def _block_arguments(stage: StageSpec, *, first: bool, se: bool) -> dict[str, Any]:
    """Arguments of one block: only the first block changes width and stride."""
    return {
        "inner_channels": stage.inner_width,
        "out_channels": stage.out_width,
        "spatial_stride": stage.spatial_stride if first else 1,
        "kernel": stage.depthwise_kernel,
        "se_channels": stage.se_width if se else 0,
    }


def create_stage(*, stage: StageSpec, layers: LayerTypes):
    from torch import nn

    return nn.Sequential(
        *(
            create_block(
                in_channels=stage.in_width if i == 0 else stage.out_width,
                layers=layers,
                **_block_arguments(stage, first=i == 0, se=stage.se_blocks[i]),
            )
            for i in range(stage.blocks)
        )
    )


def stage_complexity(*, stage: StageSpec, in_shape: Shape) -> tuple[Complexity, Shape]:
    """Cost of a stage: the first block, plus each distinct later block times its count.

    Blocks after the first all see the same shape and differ only in whether
    they carry SE, so a 121-block network costs four block evaluations per
    stage instead of one per block (the sum is the same, term by term).
    """
    total, shape = block_complexity(in_shape=in_shape, **_block_arguments(stage, first=True, se=stage.se_blocks[0]))
    later = stage.se_blocks[1:]
    with_se = sum(later)
    for se, count in ((True, with_se), (False, len(later) - with_se)):
        if count:
            cost, _ = block_complexity(in_shape=shape, **_block_arguments(stage, first=False, se=se))
            total = total + cost * count
    return total, shape


# -- head --------------------------------------------------------------------
def create_head(
    *, in_channels: int, conv5_channels: int, head_channels: int, num_classes: int, dropout: float, layers: LayerTypes
):
    from torch import nn

    from .modules import X3DHead

    layers = layers.resolved()
    conv = layers.conv
    return X3DHead(
        conv5=nn.Sequential(
            _conv(in_channels, conv5_channels, 1, conv=conv),
            layers.norm(conv5_channels),
            layers.activation(inplace=True),
        ),
        pool=layers.pool(1),
        fc1=nn.Sequential(_conv(conv5_channels, head_channels, 1, conv=conv), layers.activation(inplace=True)),
        dropout=dropout,
        classifier=nn.Linear(head_channels, num_classes, bias=True),
    )


def head_complexity(
    *, in_shape: Shape, conv5_channels: int, head_channels: int, num_classes: int
) -> tuple[Complexity, Shape]:
    ones = _pointwise(len(in_shape) - 1)
    conv5, shape = conv_complexity(in_shape=in_shape, out_channels=conv5_channels, kernel=ones)
    fc1, _ = conv_complexity(in_shape=(conv5_channels, *ones), out_channels=head_channels, kernel=ones)
    classifier = linear_complexity(in_features=head_channels, out_features=num_classes)
    return conv5 + batchnorm_complexity(conv5_channels) + fc1 + classifier, (num_classes, *ones)


# -- whole network -------------------------------------------------------------
def create_network(*, arch: BodyArchitecture, stem: "nn.Module", layers: LayerTypes):
    """An X3D-style network: the given stem, then the stages and head ``arch`` describes (video or image)."""
    from torch import nn

    from .modules import X3DNet

    return X3DNet(
        stem=stem,
        stages=nn.Sequential(*(create_stage(stage=stage, layers=layers) for stage in arch.stages)),
        head=create_head(
            in_channels=arch.stages[-1].out_width,
            conv5_channels=arch.conv5_width,
            head_channels=arch.head_width,
            num_classes=arch.num_classes,
            dropout=arch.dropout,
            layers=layers,
        ),
    )


def create_x3d(*, arch: X3DArchitecture, layers: LayerTypes = LayerTypes()):
    """Build the network an :class:`X3DArchitecture` describes."""
    stem = create_stem(
        in_channels=arch.in_channels,
        out_channels=arch.stem_width,
        spatial_kernel=arch.stem_spatial_kernel,
        temporal_kernel=arch.stem_temporal_kernel,
        spatial_stride=arch.stages[0].spatial_stride,
        layers=layers,
    )
    return create_network(arch=arch, stem=stem, layers=layers)


@dataclass(frozen=True)
class PartComplexity:
    """Cost of one named part of a network and the shape it outputs (for ``nas space show``)."""

    name: str
    cost: Complexity
    out_shape: Shape


def network_parts(arch: BodyArchitecture, stem: tuple[Complexity, Shape]) -> list[PartComplexity]:
    """The stem's given cost and shape, then each stage and the head ``arch`` describes, in order."""
    cost, shape = stem
    parts = [PartComplexity("stem", cost, shape)]
    for stage in arch.stages:
        cost, shape = stage_complexity(stage=stage, in_shape=shape)
        parts.append(PartComplexity(stage.name, cost, shape))
    cost, shape = head_complexity(
        in_shape=shape, conv5_channels=arch.conv5_width, head_channels=arch.head_width, num_classes=arch.num_classes
    )
    parts.append(PartComplexity("head", cost, shape))
    return parts


def x3d_complexity_parts(arch: X3DArchitecture) -> list[PartComplexity]:
    """Stem, each stage and the head, in order, each with its cost and output shape."""
    stem = stem_complexity(
        in_shape=arch.input_shape,
        out_channels=arch.stem_width,
        spatial_kernel=arch.stem_spatial_kernel,
        temporal_kernel=arch.stem_temporal_kernel,
        spatial_stride=arch.stages[0].spatial_stride,
    )
    return network_parts(arch, stem)


def total_complexity(parts: list[PartComplexity]) -> Complexity:
    """The sum of the parts' costs."""
    total = Complexity()
    for part in parts:
        total = total + part.cost
    return total


def x3d_complexity(arch: X3DArchitecture) -> Complexity:
    """Total analytic complexity of an X3D network."""
    return total_complexity(x3d_complexity_parts(arch))
