"""The concrete R(2+1)D network a point describes: every width, stride and shape.

R(2+1)D (Tran et al., *A Closer Look at Spatiotemporal Convolutions for Action
Recognition*, CVPR 2018) factorises each t x k x k convolution into a spatial
1 x k x k convolution to ``M`` channels and a temporal t x 1 x 1 one, with
``M`` chosen so that the pair has about the parameters of the full 3D
convolution.  :class:`R2Plus1DBase` holds what is not a search axis;
:func:`derive_architecture` applies the rounding rules once, and both the
builder and the complexity functions read its result, so they cannot drift.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

from spaces import SpaceError
from spaces.axis import Value


@dataclass(frozen=True)
class R2Plus1DBase:
    """Everything about the network that is not an axis (torchvision's ``r2plus1d_18`` by default)."""

    num_classes: int = 400
    fps: float = 30.0
    in_channels: int = 3
    stem_width: int = 64
    stem_inner_width: int = 45  # the paper's stem: 1x7x7 to 45 channels, then 3x1x1 to 64
    stem_spatial_kernel: int = 7
    stage_widths: tuple[int, ...] = (64, 128, 256, 512)
    spatial_kernel: int = 3
    temporal_downsample: bool = True  # stages after the first halve the frames as well as the pixels
    dropout: float = 0.0
    width_divisor: int = 8

    def __post_init__(self) -> None:
        object.__setattr__(self, "stage_widths", tuple(self.stage_widths))  # JSON and YAML give lists
        checks = {
            "num_classes": self.num_classes >= 1,
            "fps": self.fps > 0,
            "in_channels": self.in_channels >= 1,
            "stem_width": self.stem_width >= 1,
            "stem_inner_width": self.stem_inner_width >= 1,
            "stem_spatial_kernel": self.stem_spatial_kernel % 2 == 1,
            "stage_widths": len(self.stage_widths) >= 1 and all(w >= 1 for w in self.stage_widths),
            "spatial_kernel": self.spatial_kernel % 2 == 1,
            "dropout": 0 <= self.dropout < 1,
            "width_divisor": self.width_divisor >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise SpaceError(f"R(2+1)D base network: invalid {name} = {getattr(self, name)!r}")

    def replace(self, **changes: object) -> "R2Plus1DBase":
        known = [f.name for f in fields(self)]
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise SpaceError(f"R(2+1)D base network has no setting {unknown[0]!r}; known: {', '.join(known)}")
        return R2Plus1DBase(**{**self.__dict__, **changes})


def round_width(width: float, divisor: int) -> int:
    """A scaled channel count rounded to the nearest multiple of ``divisor`` (at least one multiple)."""
    return max(divisor, int(width / divisor + 0.5) * divisor)


def factorised_width(in_channels: int, out_channels: int, temporal_kernel: int, spatial_kernel: int) -> int:
    """Channels between the spatial and the temporal conv: the full 3D conv's parameters, floored.

    ``M = floor(t k^2 N_in N_out / (k^2 N_in + t N_out))`` (Tran et al., section 3.5),
    computed in integers exactly as torchvision's ``Conv2Plus1D`` callers do.
    """
    area = spatial_kernel * spatial_kernel
    return max(
        1, in_channels * out_channels * temporal_kernel * area // (in_channels * area + temporal_kernel * out_channels)
    )


@dataclass(frozen=True)
class StageSpec:
    """One stage of basic blocks; only its first block changes width and strides."""

    name: str
    blocks: int
    in_width: int
    out_width: int
    spatial_stride: int
    temporal_stride: int


@dataclass(frozen=True)
class R2Plus1DArchitecture:
    """Everything needed to build or count one R(2+1)D network, all roundings done."""

    frames: int
    crop: int
    in_channels: int
    stem_width: int
    stem_inner_width: int
    stem_spatial_kernel: int
    temporal_kernel: int
    spatial_kernel: int
    stages: tuple[StageSpec, ...]
    num_classes: int
    dropout: float

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """Per-sample input (channels, frames, height, width)."""
        return (self.in_channels, self.frames, self.crop, self.crop)

    def block_inner_width(self, in_width: int, out_width: int) -> int:
        """The factorised width of a block's two (2+1)D convs.

        Both convs of a block use the width computed from the block's input and
        output channels, as torchvision's ``BasicBlock`` does (its second conv
        reuses the first one's ``midplanes``).
        """
        return factorised_width(in_width, out_width, self.temporal_kernel, self.spatial_kernel)


def derive_architecture(
    point: Mapping[str, Value], base: R2Plus1DBase, num_classes: int | None = None
) -> R2Plus1DArchitecture:
    """Apply the width multiplier, depth and strides of a point to the base network."""
    width = float(point["width"])
    stages, in_width = [], round_width(base.stem_width * width, base.width_divisor)
    for index, base_width in enumerate(base.stage_widths):
        out_width = round_width(base_width * width, base.width_divisor)
        downsample = 2 if index > 0 else 1
        stages.append(
            StageSpec(
                name=f"layer{index + 1}",
                blocks=int(point["depth"]),
                in_width=in_width,
                out_width=out_width,
                spatial_stride=downsample,
                temporal_stride=downsample if base.temporal_downsample else 1,
            )
        )
        in_width = out_width
    return R2Plus1DArchitecture(
        frames=int(point["frames"]),
        crop=int(point["crop"]),
        in_channels=base.in_channels,
        stem_width=round_width(base.stem_width * width, base.width_divisor),
        stem_inner_width=max(
            1, math.floor(base.stem_inner_width * width + 0.5)
        ),  # 45 is no multiple of 8: nearest whole
        stem_spatial_kernel=base.stem_spatial_kernel,
        temporal_kernel=2 * int(point["temporal_radius"]) + 1,
        spatial_kernel=base.spatial_kernel,
        stages=tuple(stages),
        num_classes=num_classes if num_classes is not None else base.num_classes,
        dropout=base.dropout,
    )
