"""Complexity estimators: analytic (free, no model built) and measured (counts a built model)."""

from __future__ import annotations

import time

from spaces import Point, SearchSpace

from .base import Estimator, Measurement, fingerprint_of


class AnalyticComplexity(Estimator):
    """MACs, parameters and activations from the space's closed-form complexity.

    Costs microseconds per point, so strategies use it to reject candidates
    over the compute target before anything is trained.
    """

    name = "analytic"

    def __init__(self, num_classes: int | None = None) -> None:
        self.num_classes = num_classes

    def evaluate(self, space: SearchSpace, point: Point, fidelity: float | None = None) -> Measurement:
        start = time.perf_counter()
        cost = space.complexity(point, num_classes=self.num_classes)
        return Measurement(point=point, metrics=cost.as_dict(), seconds=time.perf_counter() - start)

    def fingerprint(self, fidelity: float | None = None) -> str:
        return fingerprint_of(self.name, {"num_classes": self.num_classes})


class MeasuredComplexity(Estimator):
    """Builds the network (on the meta device) and counts one forward pass.

    The cross-check of :class:`AnalyticComplexity`: operators it cannot count
    are listed in ``info["uncounted_ops"]``, never silently treated as zero.
    """

    name = "measured"

    def __init__(self, num_classes: int | None = None, device: str = "meta") -> None:
        self.num_classes = num_classes
        self.device = device

    def evaluate(self, space: SearchSpace, point: Point, fidelity: float | None = None) -> Measurement:
        import torch

        from .counting import measure_complexity, thop_count

        start = time.perf_counter()
        with torch.device(self.device):
            model = space.build(point, num_classes=self.num_classes)
        counted = measure_complexity(model, space.input_shape(point), device=self.device)
        metrics = {"macs": counted.macs, "params": counted.params, "params_without_bn": counted.params_without_bn}
        thop = thop_count(model, space.input_shape(point), device=self.device)
        return Measurement(
            point=point,
            metrics=metrics,
            seconds=time.perf_counter() - start,
            info={
                "uncounted_ops": counted.uncounted,
                "thop": {
                    "macs": thop.macs,
                    "params": thop.params,
                    "conv_linear_macs": thop.convention_macs,
                    "beyond_convention": thop.beyond_convention,
                },
            },
        )

    def fingerprint(self, fidelity: float | None = None) -> str:
        return fingerprint_of(self.name, {"num_classes": self.num_classes, "device": self.device})
