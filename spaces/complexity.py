"""Analytic complexity of layers, counted the way the published X3D figures were.

Convention (fvcore, 2020): multiply-adds of convolution and linear layers
only, one fused multiply-add = 1 ("MACs"); batch norm, activations, pooling
and residual additions are not counted; biases are not counted.  Parameters
are counted exactly, with the affine batch-norm weights kept apart so that
"parameters without BN" (the paper's figure) can be reported.  Activations
are the output elements of conv and linear layers (the pycls convention).

Each function here is the complexity twin of a layer a builder creates; the
builders and these functions share the rounding helpers of their space, so
the two cannot drift apart silently (a test counts built models).
"""

from __future__ import annotations

from typing import NamedTuple

Shape3d = tuple[int, int, int, int]  # (channels, time, height, width)


class Complexity(NamedTuple):
    """Additive cost of a network part: MACs, parameters (BN included) and activations.

    A NamedTuple rather than a dataclass: analytic search asks for tens of
    thousands of these per second, and tuples are several times cheaper to make.
    """

    macs: int = 0
    params: int = 0
    bn_params: int = 0
    activations: int = 0

    def __add__(self, other: "Complexity") -> "Complexity":  # type: ignore[override]
        return Complexity(
            self.macs + other.macs,
            self.params + other.params,
            self.bn_params + other.bn_params,
            self.activations + other.activations,
        )

    def __mul__(self, times: int) -> "Complexity":  # type: ignore[override]
        return Complexity(self.macs * times, self.params * times, self.bn_params * times, self.activations * times)

    @property
    def params_without_bn(self) -> int:
        return self.params - self.bn_params

    def as_dict(self) -> dict[str, int]:
        return {
            "macs": self.macs,
            "params": self.params,
            "params_without_bn": self.params_without_bn,
            "activations": self.activations,
        }


def conv3d_complexity(
    *,
    in_shape: Shape3d,
    out_channels: int,
    kernel: tuple[int, int, int],
    stride: tuple[int, int, int] = (1, 1, 1),
    padding: tuple[int, int, int] = (0, 0, 0),
    groups: int = 1,
    bias: bool = False,
) -> tuple[Complexity, Shape3d]:
    """Cost and output shape of an ``nn.Conv3d`` applied to ``in_shape``."""
    in_channels, t, h, w = in_shape
    (kt, kh, kw), (st, sh, sw), (pt, ph, pw) = kernel, stride, padding
    out_t = (t + 2 * pt - kt) // st + 1
    out_h = (h + 2 * ph - kh) // sh + 1
    out_w = (w + 2 * pw - kw) // sw + 1
    per_output = (in_channels // groups) * kt * kh * kw
    outputs = out_channels * out_t * out_h * out_w
    params = out_channels * per_output + (out_channels if bias else 0)
    return Complexity(outputs * per_output, params, 0, outputs), (out_channels, out_t, out_h, out_w)


def batchnorm_complexity(channels: int) -> Complexity:
    """Affine batch norm: a weight and a bias per channel, no MACs by convention."""
    return Complexity(params=2 * channels, bn_params=2 * channels)


def linear_complexity(*, in_features: int, out_features: int, bias: bool = True) -> Complexity:
    """Cost of an ``nn.Linear`` on one vector."""
    return Complexity(
        macs=in_features * out_features,
        params=in_features * out_features + (out_features if bias else 0),
        activations=out_features,
    )
