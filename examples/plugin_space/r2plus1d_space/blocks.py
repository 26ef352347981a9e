"""R(2+1)D builders, each with its analytic complexity function beside it.

Every ``create_*`` has a ``*_complexity`` twin taking the same arguments and
the same geometry helpers (pycls style), so a layer cannot be built one way
and counted another; a test counts built models against these.  Torch is
imported inside the builders only: counting never imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spaces import Complexity
from spaces.complexity import (
    Shape3d,
    batchnorm_complexity,
    conv3d_complexity,
    linear_complexity,
)

from .network import R2Plus1DArchitecture, StageSpec

if TYPE_CHECKING:  # pragma: no cover - typing only
    from torch import nn

Geometry = dict[str, tuple[int, int, int]]


def spatial_geometry(kernel: int, stride: int) -> Geometry:
    """The 1 x k x k half of a (2+1)D conv: 'same' padding, spatial stride."""
    return {"kernel": (1, kernel, kernel), "stride": (1, stride, stride), "padding": (0, kernel // 2, kernel // 2)}


def temporal_geometry(kernel: int, stride: int) -> Geometry:
    """The t x 1 x 1 half: 'same' padding, temporal stride."""
    return {"kernel": (kernel, 1, 1), "stride": (stride, 1, 1), "padding": (kernel // 2, 0, 0)}


def projection_geometry(spatial_stride: int, temporal_stride: int) -> Geometry:
    """The 1 x 1 x 1 shortcut projection, striding like the block."""
    return {"kernel": (1, 1, 1), "stride": (temporal_stride, spatial_stride, spatial_stride), "padding": (0, 0, 0)}


def _conv(in_channels: int, out_channels: int, geometry: Geometry) -> "nn.Conv3d":
    from torch import nn

    return nn.Conv3d(
        in_channels,
        out_channels,
        geometry["kernel"],
        stride=geometry["stride"],
        padding=geometry["padding"],
        bias=False,
    )


# -- the factorised convolution ------------------------------------------------------
def create_conv2plus1d(
    *,
    in_channels: int,
    inner_channels: int,
    out_channels: int,
    temporal_kernel: int,
    spatial_kernel: int,
    spatial_stride: int,
    temporal_stride: int,
) -> "nn.Sequential":
    """Spatial conv to ``inner_channels``, BN, ReLU, temporal conv to ``out_channels`` (no BN after: the caller's)."""
    from torch import nn

    return nn.Sequential(
        _conv(in_channels, inner_channels, spatial_geometry(spatial_kernel, spatial_stride)),
        nn.BatchNorm3d(inner_channels),
        nn.ReLU(inplace=True),
        _conv(inner_channels, out_channels, temporal_geometry(temporal_kernel, temporal_stride)),
    )


def conv2plus1d_complexity(
    *,
    in_shape: Shape3d,
    inner_channels: int,
    out_channels: int,
    temporal_kernel: int,
    spatial_kernel: int,
    spatial_stride: int,
    temporal_stride: int,
) -> tuple[Complexity, Shape3d]:
    spatial, shape = conv3d_complexity(
        in_shape=in_shape, out_channels=inner_channels, **spatial_geometry(spatial_kernel, spatial_stride)
    )
    temporal, shape = conv3d_complexity(
        in_shape=shape, out_channels=out_channels, **temporal_geometry(temporal_kernel, temporal_stride)
    )
    return spatial + batchnorm_complexity(inner_channels) + temporal, shape


# -- stem ---------------------------------------------------------------------------
def _stem_arguments(arch: R2Plus1DArchitecture) -> dict[str, int]:
    return {
        "inner_channels": arch.stem_inner_width,
        "out_channels": arch.stem_width,
        "temporal_kernel": arch.temporal_kernel,
        "spatial_kernel": arch.stem_spatial_kernel,
        "spatial_stride": 2,
        "temporal_stride": 1,
    }


def create_stem(arch: R2Plus1DArchitecture) -> "nn.Sequential":
    """The paper's stem: a (2+1)D conv with a 7 x 7 spatial kernel at spatial stride 2, then BN and ReLU."""
    from torch import nn

    return nn.Sequential(
        create_conv2plus1d(in_channels=arch.in_channels, **_stem_arguments(arch)),
        nn.BatchNorm3d(arch.stem_width),
        nn.ReLU(inplace=True),
    )


def stem_complexity(arch: R2Plus1DArchitecture) -> tuple[Complexity, Shape3d]:
    cost, shape = conv2plus1d_complexity(in_shape=arch.input_shape, **_stem_arguments(arch))
    return cost + batchnorm_complexity(arch.stem_width), shape


# -- basic block ---------------------------------------------------------------------
def _needs_projection(in_channels: int, out_channels: int, spatial_stride: int, temporal_stride: int) -> bool:
    return in_channels != out_channels or spatial_stride != 1 or temporal_stride != 1


def _block_convs(
    arch: R2Plus1DArchitecture, in_channels: int, out_channels: int, spatial_stride: int, temporal_stride: int
) -> list[dict[str, int]]:
    """Arguments of the block's two (2+1)D convs: the first strides, both share one inner width."""
    shared = {
        "inner_channels": arch.block_inner_width(in_channels, out_channels),
        "out_channels": out_channels,
        "temporal_kernel": arch.temporal_kernel,
        "spatial_kernel": arch.spatial_kernel,
    }
    return [
        {**shared, "in_channels": in_channels, "spatial_stride": spatial_stride, "temporal_stride": temporal_stride},
        {**shared, "in_channels": out_channels, "spatial_stride": 1, "temporal_stride": 1},
    ]


def create_block(
    arch: R2Plus1DArchitecture, *, in_channels: int, out_channels: int, spatial_stride: int, temporal_stride: int
) -> "nn.Module":
    """Two (2+1)D convs with BN, ReLU between, a residual shortcut (projected where the shape changes)."""
    from torch import nn

    from .modules import BasicBlock

    first, second = _block_convs(arch, in_channels, out_channels, spatial_stride, temporal_stride)
    branch = nn.Sequential(
        create_conv2plus1d(**first),
        nn.BatchNorm3d(out_channels),
        nn.ReLU(inplace=True),
        create_conv2plus1d(**second),
        nn.BatchNorm3d(out_channels),
    )
    shortcut = None
    if _needs_projection(in_channels, out_channels, spatial_stride, temporal_stride):
        shortcut = nn.Sequential(
            _conv(in_channels, out_channels, projection_geometry(spatial_stride, temporal_stride)),
            nn.BatchNorm3d(out_channels),
        )
    return BasicBlock(branch=branch, shortcut=shortcut)


def block_complexity(
    arch: R2Plus1DArchitecture, *, in_shape: Shape3d, out_channels: int, spatial_stride: int, temporal_stride: int
) -> tuple[Complexity, Shape3d]:
    in_channels = in_shape[0]
    first, second = _block_convs(arch, in_channels, out_channels, spatial_stride, temporal_stride)
    del first["in_channels"], second["in_channels"]  # the shapes carry them
    cost, shape = conv2plus1d_complexity(in_shape=in_shape, **first)
    second_cost, shape = conv2plus1d_complexity(in_shape=shape, **second)
    total = cost + second_cost + batchnorm_complexity(out_channels) * 2
    if _needs_projection(in_channels, out_channels, spatial_stride, temporal_stride):
        projection, _ = conv3d_complexity(
            in_shape=in_shape, out_channels=out_channels, **projection_geometry(spatial_stride, temporal_stride)
        )
        total = total + projection + batchnorm_complexity(out_channels)
    return total, shape


# -- stage ---------------------------------------------------------------------------
def _strides(stage: StageSpec, first: bool) -> dict[str, int]:
    return {
        "spatial_stride": stage.spatial_stride if first else 1,
        "temporal_stride": stage.temporal_stride if first else 1,
    }


def create_stage(arch: R2Plus1DArchitecture, stage: StageSpec) -> "nn.Sequential":
    from torch import nn

    return nn.Sequential(
        *(
            create_block(
                arch,
                in_channels=stage.in_width if i == 0 else stage.out_width,
                out_channels=stage.out_width,
                **_strides(stage, first=i == 0),
            )
            for i in range(stage.blocks)
        )
    )


def stage_complexity(arch: R2Plus1DArchitecture, stage: StageSpec, in_shape: Shape3d) -> tuple[Complexity, Shape3d]:
    """The first block, plus the later ones (all alike: same shape, no stride) times their count."""
    total, shape = block_complexity(
        arch, in_shape=in_shape, out_channels=stage.out_width, **_strides(stage, first=True)
    )
    if stage.blocks > 1:
        later, _ = block_complexity(arch, in_shape=shape, out_channels=stage.out_width, **_strides(stage, first=False))
        total = total + later * (stage.blocks - 1)
    return total, shape


# -- head and network -------------------------------------------------------------------
def create_head(arch: R2Plus1DArchitecture) -> "nn.Module":
    from torch import nn

    from .modules import PoolHead

    return PoolHead(dropout=arch.dropout, classifier=nn.Linear(arch.stages[-1].out_width, arch.num_classes))


def head_complexity(arch: R2Plus1DArchitecture) -> Complexity:
    """Global average pooling (not counted), then the classifier."""
    return linear_complexity(in_features=arch.stages[-1].out_width, out_features=arch.num_classes)


def create_r2plus1d(arch: R2Plus1DArchitecture) -> "nn.Module":
    """The network an :class:`R2Plus1DArchitecture` describes."""
    from torch import nn

    from .modules import R2Plus1DNet

    return R2Plus1DNet(
        stem=create_stem(arch),
        stages=nn.Sequential(*(create_stage(arch, s) for s in arch.stages)),
        head=create_head(arch),
    )


def r2plus1d_complexity_parts(arch: R2Plus1DArchitecture) -> list[tuple[str, Complexity, Shape3d]]:
    """(name, cost, output shape) of the stem, each stage and the head, in order."""
    cost, shape = stem_complexity(arch)
    parts = [("stem", cost, shape)]
    for stage in arch.stages:
        cost, shape = stage_complexity(arch, stage, shape)
        parts.append((stage.name, cost, shape))
    parts.append(("head", head_complexity(arch), (arch.num_classes, 1, 1, 1)))
    return parts


def r2plus1d_complexity(arch: R2Plus1DArchitecture) -> Complexity:
    total = Complexity()
    for _, cost, _ in r2plus1d_complexity_parts(arch):
        total = total + cost
    return total
