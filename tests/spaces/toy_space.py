"""A tiny search space used to check that the framework is not X3D-specific.

Three integer axes over a small stack of (1x3x3) convolutions on single-frame
clips; its complexity is computed with the generic layer helpers, so the
conformance suite can cross-check it against a built model like any space.
"""

from __future__ import annotations

from spaces import Axis, ClipSpec, Complexity, Point, SearchSpace
from spaces.complexity import batchnorm_complexity, conv3d_complexity, linear_complexity

NUM_CLASSES = 5


class ToySpace(SearchSpace):
    name = "toy"
    version = "1"
    title = "a toy conv stack for framework tests"

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        self.num_classes = num_classes
        super().__init__(
            [
                Axis("channels", True, 4, 64, base=8, ladder=(4, 8, 16, 32, 64)),
                Axis("layers", True, 1, 4, base=1, ladder=(1, 2, 3, 4), log=False),
                Axis("resolution", True, 8, 32, base=8, ladder=(8, 16, 32), quantum=4),
            ],
            presets={"tiny": {}, "big": {"channels": 32, "layers": 3, "resolution": 32}},
        )

    def settings(self) -> dict[str, object]:
        return {"num_classes": self.num_classes}

    def _classes(self, num_classes: int | None) -> int:
        return self.num_classes if num_classes is None else num_classes

    def complexity(self, point: Point, num_classes: int | None = None) -> Complexity:
        point = self.point(point)
        shape = (3, 1, point["resolution"], point["resolution"])
        total = Complexity()
        for _ in range(point["layers"]):
            cost, shape = conv3d_complexity(
                in_shape=shape, out_channels=point["channels"], kernel=(1, 3, 3), padding=(0, 1, 1)
            )
            total = total + cost + batchnorm_complexity(point["channels"])
        return total + linear_complexity(in_features=point["channels"], out_features=self._classes(num_classes))

    def build(self, point: Point, num_classes: int | None = None):
        from torch import nn

        point = self.point(point)
        layers, channels = [], 3
        for _ in range(point["layers"]):
            layers += [
                nn.Conv3d(channels, point["channels"], (1, 3, 3), padding=(0, 1, 1), bias=False),
                nn.BatchNorm3d(point["channels"]),
                nn.ReLU(),
            ]
            channels = point["channels"]
        return nn.Sequential(
            *layers, nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(channels, self._classes(num_classes))
        )

    def input_shape(self, point: Point, batch: int = 1) -> tuple[int, ...]:
        point = self.point(point)
        return (batch, 3, 1, point["resolution"], point["resolution"])

    def clip_spec(self, point: Point) -> ClipSpec:
        point = self.point(point)
        res = point["resolution"]
        return ClipSpec(frames=1, stride=1, crop=res, short_side=(res, res), fps=30.0)
