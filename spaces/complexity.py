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

import math
from typing import NamedTuple

Shape3d = tuple[int, int, int, int]  # (channels, time, height, width)
Shape2d = tuple[int, int, int]  # (channels, height, width)
Shape = tuple[int, ...]  # (channels, *spatial): a video network's Shape3d or an image network's Shape2d


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


def conv_complexity(
    *,
    in_shape: Shape,
    out_channels: int,
    kernel: tuple[int, ...],
    stride: tuple[int, ...] | None = None,
    padding: tuple[int, ...] | None = None,
    groups: int = 1,
    bias: bool = False,
) -> tuple[Complexity, Shape]:
    """Cost and output shape of an ``nn.Conv2d`` or ``nn.Conv3d`` applied to ``in_shape``.

    One formula for every rank, so the 2D image network and the 3D video
    network are counted by the same code; ``kernel`` has one entry per
    spatial (and temporal) dimension of ``in_shape``, stride and padding
    default to 1 and 0 there.
    """
    in_channels, *sizes = in_shape
    stride = stride or (1,) * len(kernel)
    padding = padding or (0,) * len(kernel)
    if not len(sizes) == len(kernel) == len(stride) == len(padding):
        raise ValueError(
            f"a conv over {len(sizes)} dimensions given kernel {kernel}, stride {stride}, padding {padding}"
        )
    out_sizes = tuple((size + 2 * pad - k) // step + 1 for size, k, step, pad in zip(sizes, kernel, stride, padding))
    per_output = (in_channels // groups) * math.prod(kernel)
    outputs = out_channels * math.prod(out_sizes)
    params = out_channels * per_output + (out_channels if bias else 0)
    return Complexity(outputs * per_output, params, 0, outputs), (out_channels, *out_sizes)


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
    cost, shape = conv_complexity(
        in_shape=in_shape,
        out_channels=out_channels,
        kernel=kernel,
        stride=stride,
        padding=padding,
        groups=groups,
        bias=bias,
    )
    return cost, shape  # type: ignore[return-value]


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
