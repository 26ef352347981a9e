"""The concrete image network a point describes: every width, depth and shape.

:class:`ImageBase` holds everything about the base image network that is not
an axis (classes, base crop, widths, blocks, head, SE ratio, ...).  Stages are
derived by X3D's own :func:`~spaces.x3d.network.derive_stages`, with no
temporal kernel, so the image network follows exactly X3D's rounding rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from ..axis import Value
from ..x3d.network import BodyArchitecture, NetworkBody, derive_stages


@dataclass(frozen=True)
class ImageBase(NetworkBody):
    """The base image network (X2D without its temporal conv): all constants that are not search axes.

    Widths are in X3D's paper units (width 1 gives a 24-channel stem); 1000
    classes and a 112-pixel crop are the ImageNet-style defaults.
    """

    label: ClassVar[str] = "image base network"

    num_classes: int = 1000
    base_crop: int = 112
    stem_kernel: int = 3

    def _checks(self) -> dict[str, bool]:
        return {**super()._checks(), "base_crop": self.base_crop >= 8, "stem_kernel": self.stem_kernel % 2 == 1}


@dataclass(frozen=True)
class ImageArchitecture(BodyArchitecture):
    """Everything needed to build or count one image network, all roundings done."""

    stem_kernel: int

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Per-sample input (channels, height, width)."""
        return (self.in_channels, self.crop, self.crop)


def derive_image_architecture(
    point: Mapping[str, Value], base: ImageBase, num_classes: int | None = None
) -> ImageArchitecture:
    """Apply X3D's rounding rules to an image point: the single source of every width and depth."""
    stem_width, stages = derive_stages(
        base,
        width=float(point["width"]),
        bottleneck=float(point["bottleneck"]),
        depth=float(point["depth"]),
        temporal_kernel=None,
    )
    return ImageArchitecture(
        crop=int(point["crop"]),
        in_channels=base.in_channels,
        stem_width=stem_width,
        stem_kernel=base.stem_kernel,
        stages=stages,
        conv5_width=stages[-1].inner_width,
        head_width=base.head_width,
        num_classes=num_classes if num_classes is not None else base.num_classes,
        dropout=base.dropout,
    )
