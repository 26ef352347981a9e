"""The R(2+1)D search space: six axes over factorised-convolution video ResNets.

Axes: ``frames`` and sampling ``stride`` (the clip), training ``crop``, the
channel multiplier ``width``, the basic blocks per stage ``depth`` (1:
R(2+1)D-10, 2: -18, 3: -26) and the ``temporal_radius`` r of every (2+1)D
convolution: its temporal kernel is 2r + 1 frames (0 makes each factorised conv
purely spatial, an R2D network with the same widths).  A radius rather than a
kernel size, so that every whole number in range is a valid point.  The base point is a small network a 2-core CPU
trains in seconds; the presets are the published Kinetics-sized networks at
16 x 112^2, and ``R18`` is torchvision's ``r2plus1d_18`` layer for layer.
"""

from __future__ import annotations

from typing import Any

from spaces import (
    Axis,
    AxisStep,
    ClipSpec,
    Complexity,
    InvalidPointError,
    Operation,
    Point,
    SearchSpace,
)
from spaces.x3d.space import clip_operations

from .blocks import r2plus1d_complexity, r2plus1d_complexity_parts
from .network import R2Plus1DArchitecture, R2Plus1DBase, derive_architecture

#: Every axis: (name, integer, low, high, base, ladder, description).  Ladders step about x2 in compute.
AXES: tuple[tuple[str, bool, float, float, float, tuple[float, ...], str], ...] = (
    ("frames", True, 1, 64, 4, (1, 2, 4, 8, 16, 32, 64), "frames per clip"),
    ("stride", True, 1, 32, 8, (1, 2, 4, 8, 16, 32), "sampling stride, in source frames"),
    (
        "crop",
        True,
        16,
        320,
        48,
        (32, 48, 64, 88, 112, 160, 224, 320),
        "training crop in pixels (about x sqrt(2) a level)",
    ),
    (
        "width",
        False,
        0.125,
        2.0,
        0.125,
        (0.125, 0.1768, 0.25, 0.3536, 0.5, 0.7071, 1.0, 1.4142, 2.0),
        "channel multiplier of every layer (1 = 64 to 512 channels)",
    ),
    ("depth", True, 1, 8, 1, (1, 2, 3, 4, 6, 8), "basic blocks per stage (1: R(2+1)D-10, 2: -18, 3: -26)"),
    (
        "temporal_radius",
        True,
        0,
        3,
        1,
        (0, 1, 2, 3),
        "frames each (2+1)D conv sees either side: kernel 2r+1 (0: spatial only)",
    ),
)

#: The published shape of the networks: 16 frames at stride 2 (8 fps from 30 fps video), 112^2, full width.
KINETICS = {"frames": 16, "stride": 2, "crop": 112, "width": 1.0, "temporal_radius": 1}
PRESETS: dict[str, dict[str, float]] = {
    "R10": {**KINETICS, "depth": 1},
    "R18": {**KINETICS, "depth": 2},
    "R26": {**KINETICS, "depth": 3},
}

#: Training short side is drawn from [128, 160] / 112 of the crop before cropping (torchvision's 128-171 for 112).
SHORT_SIDE_PER_CROP = (128 / 112, 160 / 112)

#: What ``nas search --space r2plus1d`` uses without settings: about two expansion steps above the base.
PROXY_DEFAULTS: dict[str, Any] = {"space": {"dropout": 0.2}, "target_gflops": 0.06}


def r2plus1d_operations() -> tuple[Operation, ...]:
    """X3D's clip moves (X-Fast: frames x2 at half the stride; X-Temporal: frames x2), then one per network axis.

    The stride moves only with X-Fast, so every operation buys compute: a
    stride step alone would lengthen the clip for free and win ties.
    """
    return (
        *clip_operations(),
        AxisStep("width", name="width", label="X-Width"),
        AxisStep("depth", name="depth", label="X-Depth"),
        AxisStep("temporal_radius", name="kernel", label="X-Kernel"),
    )


class R2Plus1DSpace(SearchSpace):
    """R(2+1)D video ResNets (Tran et al., CVPR 2018) over frames, stride, crop, width, depth and temporal radius.

    Keyword options are settings of :class:`R2Plus1DBase` (``num_classes``, ``stage_widths``, ``dropout``, ...).
    """

    name = "r2plus1d"
    version = "1"
    title = "R(2+1)D video ResNets (Tran et al., CVPR 2018): frames, stride, crop, width, depth, temporal radius"
    proxy_defaults = PROXY_DEFAULTS

    def __init__(self, base: R2Plus1DBase | None = None, **base_settings: object) -> None:
        self.base_network = (base or R2Plus1DBase()).replace(**base_settings)
        axes = [
            Axis(
                name,
                integer,
                low,
                high,
                base=value,
                ladder=ladder,
                description=text,
                quantum=8 if name == "crop" else 1,
                log=name != "temporal_radius",
            )
            for name, integer, low, high, value, ladder, text in AXES
        ]
        super().__init__(axes, PRESETS, r2plus1d_operations())

    def settings(self) -> dict[str, object]:
        return {name: list(v) if isinstance(v, tuple) else v for name, v in self.base_network.__dict__.items()}

    def architecture(self, point: Point, num_classes: int | None = None) -> R2Plus1DArchitecture:
        """Every width, stride and shape of the network at ``point``."""
        if num_classes is not None and (
            isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1
        ):
            raise InvalidPointError(f"num_classes must be a whole number >= 1, got {num_classes!r}")
        return derive_architecture(self.point(point), self.base_network, num_classes)

    def complexity(self, point: Point, num_classes: int | None = None) -> Complexity:
        return r2plus1d_complexity(self.architecture(point, num_classes))

    def summary_rows(self, point: Point, num_classes: int | None = None) -> list[dict[str, Any]]:
        arch = self.architecture(point, num_classes)
        blocks = {stage.name: stage.blocks for stage in arch.stages}
        return [
            {
                "part": name,
                "blocks": blocks.get(name, "-"),
                "output": "x".join(map(str, shape)),
                "macs": cost.macs,
                "params": cost.params,
            }
            for name, cost, shape in r2plus1d_complexity_parts(arch)
        ]

    def build(self, point: Point, num_classes: int | None = None):
        from .blocks import create_r2plus1d
        from .modules import init_weights

        model = create_r2plus1d(self.architecture(point, num_classes))
        if not next(model.parameters()).is_meta:  # shapes only on meta: nothing to initialise
            init_weights(model)
        return model

    def input_shape(self, point: Point, batch: int = 1) -> tuple[int, ...]:
        return (batch, *self.architecture(point).input_shape)

    def clip_spec(self, point: Point) -> ClipSpec:
        return ClipSpec.of(self.point(point), fps=self.base_network.fps, short_side_per_crop=SHORT_SIDE_PER_CROP)
