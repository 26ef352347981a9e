"""The concrete X3D network a point describes: every width, depth and shape.

:class:`X3DBase` holds everything about the base network X2D that is *not* an
axis (classes, base crop and stride, base widths and depths, head width, SE
ratio, ...), so the same space serves Kinetics at 112^2 and a small proxy
setting.  :func:`derive_architecture` turns a point plus a base into an
:class:`X3DArchitecture`; the builder and the complexity functions both read
that object and never recompute a rounding themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, ClassVar

from ..axis import Value
from ..errors import SpaceError
from ..settings import check_setting_types
from .rounding import blocks_per_stage, inner_width, round_width

if TYPE_CHECKING:  # pragma: no cover - typing only
    from typing_extensions import Self


@dataclass(frozen=True)
class NetworkBody:
    """Settings of an X3D-style network's stem width, stages and head that are not search axes.

    Shared by X3D's base network and its 2D image counterpart's
    (:class:`spaces.image.ImageBase`), which add their input and stem settings
    and extend :meth:`_checks`; widths are in the paper's units.
    """

    #: Names the network in error messages.
    label: ClassVar[str] = "base network"

    num_classes: int = 400
    in_channels: int = 3
    stem_width: int = 24
    stage_widths: tuple[int, ...] = (24, 48, 96, 192)
    stage_blocks: tuple[int, ...] = (1, 2, 5, 3)
    stage_spatial_stride: int = 2
    block_spatial_kernel: int = 3
    se_ratio: float = 1 / 16
    se_every: int = 2
    head_width: int = 2048
    dropout: float = 0.5
    width_divisor: int = 8
    min_width: int = 8

    def __post_init__(self) -> None:
        check_setting_types(self, self.label)
        for name in ("stage_widths", "stage_blocks"):  # lists from JSON or YAML become tuples (hashable, immutable)
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for name, ok in self._checks().items():
            if not ok:
                raise SpaceError(f"{self.label}: invalid {name} = {getattr(self, name)!r}")

    def _checks(self) -> dict[str, bool]:
        """Setting name -> whether its value is valid."""
        return {
            "num_classes": self.num_classes >= 1,
            "in_channels": self.in_channels >= 1,
            "stem_width": self.stem_width >= 1,
            "stage_widths": len(self.stage_widths) == len(self.stage_blocks) >= 1 and min(self.stage_widths) >= 1,
            "stage_blocks": all(b >= 1 for b in self.stage_blocks),
            "stage_spatial_stride": self.stage_spatial_stride >= 1,
            "block_spatial_kernel": self.block_spatial_kernel % 2 == 1,
            "se_ratio": 0 <= self.se_ratio < 1,
            "se_every": self.se_every >= 1,
            "head_width": self.head_width >= 1,
            "dropout": 0 <= self.dropout < 1,
        }

    def replace(self, **changes: object) -> "Self":
        """A copy with some settings changed; an unknown setting is named with the known ones."""
        known = [f.name for f in fields(self)]
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise SpaceError(f"{self.label} has no setting {unknown[0]!r}; known: {', '.join(known)}")
        return type(self)(**{**self.__dict__, **changes})


@dataclass(frozen=True)
class X3DBase(NetworkBody):
    """The base network X2D: all architecture constants that are not search axes.

    Widths are in the paper's units (gamma_w = 1 gives a 24-channel stem); the
    reference code writes the same network as ``DIM_C1 = 12`` with
    ``WIDTH_FACTOR = 2.0``, and ``round_width(24, w) == round_width(12, 2 w)``.
    """

    label: ClassVar[str] = "X3D base network"

    base_crop: int = 112
    base_stride: int = 24
    fps: float = 30.0
    stem_spatial_kernel: int = 3
    stem_temporal_kernel: int = 5
    block_temporal_kernel: int = 3

    def _checks(self) -> dict[str, bool]:
        return {
            **super()._checks(),
            "base_crop": self.base_crop >= 8,
            "base_stride": self.base_stride >= 1,
            "fps": self.fps > 0,
            "stem_spatial_kernel": self.stem_spatial_kernel % 2 == 1,
            "stem_temporal_kernel": self.stem_temporal_kernel % 2 == 1,
            "block_temporal_kernel": self.block_temporal_kernel % 2 == 1,
        }


@dataclass(frozen=True)
class StageSpec:
    """One residual stage: its blocks, widths and which blocks carry squeeze-excitation."""

    name: str
    blocks: int
    in_width: int
    out_width: int
    inner_width: int
    se_width: int  # reduced width of the SE bottleneck (0: no SE anywhere)
    spatial_stride: int
    temporal_kernel: int | None  # None: an image network, no time axis
    spatial_kernel: int
    se_blocks: tuple[bool, ...] = field(default=())

    @property
    def depthwise_kernel(self) -> tuple[int, ...]:
        """The blocks' depthwise kernel: (t, k, k) in a video network, (k, k) in an image network."""
        spatial = (self.spatial_kernel, self.spatial_kernel)
        return spatial if self.temporal_kernel is None else (self.temporal_kernel, *spatial)


@dataclass(frozen=True)
class BodyArchitecture:
    """What every X3D-style network (video or image) has once rounded: input, stem width, stages and head."""

    crop: int
    in_channels: int
    stem_width: int
    stages: tuple[StageSpec, ...]
    conv5_width: int
    head_width: int
    num_classes: int
    dropout: float


@dataclass(frozen=True)
class X3DArchitecture(BodyArchitecture):
    """Everything needed to build or count one X3D network, all roundings done."""

    frames: int
    stem_spatial_kernel: int
    stem_temporal_kernel: int

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """Per-sample input (channels, frames, height, width)."""
        return (self.in_channels, self.frames, self.crop, self.crop)


def derive_stages(
    base: NetworkBody, *, width: float, bottleneck: float, depth: float, temporal_kernel: int | None
) -> tuple[int, tuple[StageSpec, ...]]:
    """Stem width and stages under the X3D rounding rules: the single source of every width and depth."""
    round_kw = {"min_width": base.min_width, "divisor": base.width_divisor}
    stem_width = round_width(base.stem_width, width, **round_kw)
    stages = []
    in_width = stem_width
    for index, (base_width, base_blocks) in enumerate(zip(base.stage_widths, base.stage_blocks)):
        out_width = round_width(base_width, width, **round_kw)
        inner = inner_width(out_width, bottleneck)
        blocks = blocks_per_stage(base_blocks, depth)
        se_width = round_width(inner, base.se_ratio, **round_kw) if base.se_ratio > 0 else 0
        stages.append(
            StageSpec(
                name=f"res{index + 2}",
                blocks=blocks,
                in_width=in_width,
                out_width=out_width,
                inner_width=inner,
                se_width=se_width,
                spatial_stride=base.stage_spatial_stride,
                temporal_kernel=temporal_kernel,
                spatial_kernel=base.block_spatial_kernel,
                se_blocks=tuple(se_width > 0 and i % base.se_every == 0 for i in range(blocks)),
            )
        )
        in_width = out_width
    return stem_width, tuple(stages)


def derive_architecture(point: Mapping[str, Value], base: X3DBase, num_classes: int | None = None) -> X3DArchitecture:
    """Apply the X3D rounding rules to a point: the single source of every width and depth."""
    stem_width, stages = derive_stages(
        base,
        width=float(point["width"]),
        bottleneck=float(point["bottleneck"]),
        depth=float(point["depth"]),
        temporal_kernel=base.block_temporal_kernel,
    )
    return X3DArchitecture(
        frames=int(point["frames"]),
        crop=int(point["crop"]),
        in_channels=base.in_channels,
        stem_width=stem_width,
        stem_spatial_kernel=base.stem_spatial_kernel,
        stem_temporal_kernel=base.stem_temporal_kernel,
        stages=stages,
        conv5_width=stages[-1].inner_width,
        head_width=base.head_width,
        num_classes=num_classes if num_classes is not None else base.num_classes,
        dropout=base.dropout,
    )
