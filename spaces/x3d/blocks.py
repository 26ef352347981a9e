"""X3D builder functions, each with its analytic complexity function beside it.

Every ``create_*`` function has a ``*_complexity`` twin taking the same
architecture arguments (pycls style).  Builders are keyword-only and take the
layer types they use (norm, activation) so a user can swap them without
copying the network.  Torch is imported inside the builders only, so counting
complexity never pays for importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..complexity import Complexity, Shape3d, batchnorm_complexity, conv3d_complexity, linear_complexity
from .network import StageSpec, X3DArchitecture

if TYPE_CHECKING:  # pragma: no cover - typing only
    from torch import nn


@dataclass(frozen=True)
class LayerTypes:
    """The layer classes a network is built from; ``None`` means X3D's defaults."""

    norm: "type[nn.Module] | None" = None  # BatchNorm3d
    activation: "type[nn.Module] | None" = None  # ReLU
    inner_activation: "type[nn.Module] | None" = None  # Swish (SiLU)

    def resolved(self) -> "LayerTypes":
        from torch import nn

        return LayerTypes(
            norm=self.norm or nn.BatchNorm3d,
            activation=self.activation or nn.ReLU,
            inner_activation=self.inner_activation or nn.SiLU,
        )


def _spatial_geometry(kernel: int, stride: int) -> dict[str, tuple[int, int, int]]:
    """1 x k x k conv with spatial stride and 'same' padding (the stem's spatial conv)."""
    return {"kernel": (1, kernel, kernel), "stride": (1, stride, stride), "padding": (0, kernel // 2, kernel // 2)}


def _temporal_geometry(kernel: int) -> dict[str, tuple[int, int, int]]:
    """k x 1 x 1 conv with 'same' temporal padding (the stem's depthwise temporal conv)."""
    return {"kernel": (kernel, 1, 1), "stride": (1, 1, 1), "padding": (kernel // 2, 0, 0)}


def _depthwise_geometry(temporal_kernel: int, spatial_kernel: int, spatial_stride: int) -> dict[str, tuple[int, int, int]]:
    """The block's t x k x k depthwise conv: 'same' padding, spatial stride only."""
    return {
        "kernel": (temporal_kernel, spatial_kernel, spatial_kernel),
        "stride": (1, spatial_stride, spatial_stride),
        "padding": (temporal_kernel // 2, spatial_kernel // 2, spatial_kernel // 2),
    }


def _conv(in_channels: int, out_channels: int, kernel, *, stride=1, padding=0, groups: int = 1, bias: bool = False):
    from torch import nn

    return nn.Conv3d(in_channels, out_channels, kernel, stride=stride, padding=padding, groups=groups, bias=bias)


# -- stem -------------------------------------------------------------------
def create_stem(
    *, in_channels: int, out_channels: int, spatial_kernel: int, temporal_kernel: int, spatial_stride: int, layers: LayerTypes
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
    xy, shape = conv3d_complexity(in_shape=in_shape, out_channels=out_channels, **_spatial_geometry(spatial_kernel, spatial_stride))
    t, shape = conv3d_complexity(
        in_shape=shape, out_channels=out_channels, groups=out_channels, **_temporal_geometry(temporal_kernel)
    )
    return xy + t + batchnorm_complexity(out_channels), shape


# -- squeeze-excitation ---------------------------------------------------------
def create_squeeze_excitation(*, channels: int, reduced: int, layers: LayerTypes):
    from .modules import SqueezeExcitation

    return SqueezeExcitation(channels=channels, reduced=reduced, activation=layers.resolved().activation)


def squeeze_excitation_complexity(*, channels: int, reduced: int) -> Complexity:
    pooled: Shape3d = (channels, 1, 1, 1)
    fc1, reduced_shape = conv3d_complexity(in_shape=pooled, out_channels=reduced, kernel=(1, 1, 1), bias=True)
    fc2, _ = conv3d_complexity(in_shape=reduced_shape, out_channels=channels, kernel=(1, 1, 1), bias=True)
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
    temporal_kernel: int,
    spatial_kernel: int,
    se_channels: int,
    layers: LayerTypes,
):
    """One X3D block; ``se_channels`` = 0 builds it without squeeze-excitation."""
    from torch import nn

    from .modules import X3DBlock

    layers = layers.resolved()
    depthwise = _depthwise_geometry(temporal_kernel, spatial_kernel, spatial_stride)
    out_norm = layers.norm(out_channels)
    nn.init.zeros_(out_norm.weight)  # the residual branch starts as identity
    branch = [
        _conv(in_channels, inner_channels, 1),
        layers.norm(inner_channels),
        layers.activation(inplace=True),
        _conv(inner_channels, inner_channels, depthwise["kernel"], stride=depthwise["stride"],
              padding=depthwise["padding"], groups=inner_channels),
        layers.norm(inner_channels),
    ]
    if se_channels:
        branch.append(create_squeeze_excitation(channels=inner_channels, reduced=se_channels, layers=layers))
    branch += [layers.inner_activation(), _conv(inner_channels, out_channels, 1), out_norm]
    shortcut = None
    if _needs_projection(in_channels, out_channels, spatial_stride):
        shortcut = nn.Sequential(_conv(in_channels, out_channels, 1, stride=depthwise["stride"]), layers.norm(out_channels))
    return X3DBlock(branch=nn.Sequential(*branch), shortcut=shortcut, act=layers.activation(inplace=True))


def block_complexity(
    *,
    in_shape: Shape3d,
    inner_channels: int,
    out_channels: int,
    spatial_stride: int,
    temporal_kernel: int,
    spatial_kernel: int,
    se_channels: int,
) -> tuple[Complexity, Shape3d]:
    depthwise = _depthwise_geometry(temporal_kernel, spatial_kernel, spatial_stride)
    a, shape = conv3d_complexity(in_shape=in_shape, out_channels=inner_channels, kernel=(1, 1, 1))
    b, shape = conv3d_complexity(in_shape=shape, out_channels=inner_channels, groups=inner_channels, **depthwise)
    c, out_shape = conv3d_complexity(in_shape=shape, out_channels=out_channels, kernel=(1, 1, 1))
    total = a + b + c + batchnorm_complexity(inner_channels) * 2 + batchnorm_complexity(out_channels)
    if se_channels:
        total = total + squeeze_excitation_complexity(channels=inner_channels, reduced=se_channels)
    if _needs_projection(in_shape[0], out_channels, spatial_stride):
        projection, _ = conv3d_complexity(in_shape=in_shape, out_channels=out_channels, kernel=(1, 1, 1), stride=depthwise["stride"])
        total = total + projection + batchnorm_complexity(out_channels)
    return total, out_shape


# -- stage -------------------------------------------------------------------
def _block_arguments(stage: StageSpec, *, first: bool, se: bool) -> dict[str, int]:
    """Arguments of one block: only the first block changes width and stride."""
    return {
        "inner_channels": stage.inner_width,
        "out_channels": stage.out_width,
        "spatial_stride": stage.spatial_stride if first else 1,
        "temporal_kernel": stage.temporal_kernel,
        "spatial_kernel": stage.spatial_kernel,
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


def stage_complexity(*, stage: StageSpec, in_shape: Shape3d) -> tuple[Complexity, Shape3d]:
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
def create_head(*, in_channels: int, conv5_channels: int, head_channels: int, num_classes: int, dropout: float, layers: LayerTypes):
    from torch import nn

    from .modules import X3DHead

    layers = layers.resolved()
    return X3DHead(
        conv5=nn.Sequential(_conv(in_channels, conv5_channels, 1), layers.norm(conv5_channels), layers.activation(inplace=True)),
        fc1=nn.Sequential(_conv(conv5_channels, head_channels, 1), layers.activation(inplace=True)),
        dropout=dropout,
        classifier=nn.Linear(head_channels, num_classes, bias=True),
    )


def head_complexity(*, in_shape: Shape3d, conv5_channels: int, head_channels: int, num_classes: int) -> tuple[Complexity, Shape3d]:
    conv5, shape = conv3d_complexity(in_shape=in_shape, out_channels=conv5_channels, kernel=(1, 1, 1))
    fc1, _ = conv3d_complexity(in_shape=(conv5_channels, 1, 1, 1), out_channels=head_channels, kernel=(1, 1, 1))
    classifier = linear_complexity(in_features=head_channels, out_features=num_classes)
    return conv5 + batchnorm_complexity(conv5_channels) + fc1 + classifier, (num_classes, 1, 1, 1)


# -- whole network -------------------------------------------------------------
def create_x3d(*, arch: X3DArchitecture, layers: LayerTypes = LayerTypes()):
    """Build the network an :class:`X3DArchitecture` describes."""
    from torch import nn

    from .modules import X3DNet

    return X3DNet(
        stem=create_stem(
            in_channels=arch.in_channels, out_channels=arch.stem_width, spatial_kernel=arch.stem_spatial_kernel,
            temporal_kernel=arch.stem_temporal_kernel, spatial_stride=arch.stages[0].spatial_stride, layers=layers,
        ),
        stages=nn.Sequential(*(create_stage(stage=stage, layers=layers) for stage in arch.stages)),
        head=create_head(
            in_channels=arch.stages[-1].out_width, conv5_channels=arch.conv5_width, head_channels=arch.head_width,
            num_classes=arch.num_classes, dropout=arch.dropout, layers=layers,
        ),
    )


@dataclass(frozen=True)
class PartComplexity:
    """Cost of one named part of a network and the shape it outputs (for ``nas space show``)."""

    name: str
    cost: Complexity
    out_shape: Shape3d


def x3d_complexity_parts(arch: X3DArchitecture) -> list[PartComplexity]:
    """Stem, each stage and the head, in order, each with its cost and output shape."""
    parts = []
    cost, shape = stem_complexity(
        in_shape=arch.input_shape, out_channels=arch.stem_width, spatial_kernel=arch.stem_spatial_kernel,
        temporal_kernel=arch.stem_temporal_kernel, spatial_stride=arch.stages[0].spatial_stride,
    )
    parts.append(PartComplexity("stem", cost, shape))
    for stage in arch.stages:
        cost, shape = stage_complexity(stage=stage, in_shape=shape)
        parts.append(PartComplexity(stage.name, cost, shape))
    cost, shape = head_complexity(
        in_shape=shape, conv5_channels=arch.conv5_width, head_channels=arch.head_width, num_classes=arch.num_classes
    )
    parts.append(PartComplexity("head", cost, shape))
    return parts


def x3d_complexity(arch: X3DArchitecture) -> Complexity:
    """Total analytic complexity of an X3D network."""
    total = Complexity()
    for part in x3d_complexity_parts(arch):
        total = total + part.cost
    return total
