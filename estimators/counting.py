"""Counting a *built* model: the measuring cross-check of the analytic complexity.

A forward pass runs under a dispatch mode that sees every ATen operator.
Convolutions and matrix products are counted with PyTorch's own FLOP formulas
(``torch.utils.flop_counter``; one multiply-add = 2 FLOPs there, = 1 MAC
here).  Operators the published convention leaves out (batch norm,
activations, pooling, element-wise arithmetic, data movement) are listed as
such; every *other* operator is reported in ``uncounted`` instead of being
silently counted as zero (the fvcore rule).  Runs on the meta device, so even
X3D-L is counted in milliseconds without allocating its activations.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

#: Operators that cost no MACs under the published convention (BN, activations,
#: pooling, residual adds, SE gating, dropout) or that only move data.
NOT_COUNTED_BY_CONVENTION = frozenset(
    {
        # normalisation
        "native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
        "_native_batch_norm_legit_functional", "batch_norm", "cudnn_batch_norm", "miopen_batch_norm",
        "native_layer_norm", "native_group_norm",
        # activations and element-wise arithmetic
        "relu", "relu_", "sigmoid", "sigmoid_", "silu", "silu_", "hardswish", "hardswish_", "hardsigmoid",
        "gelu", "tanh", "threshold", "clamp", "clamp_min", "add", "add_", "mul", "mul_", "sub", "div", "neg",
        "softmax", "_softmax", "log_softmax", "_log_softmax",
        # pooling and reductions
        "mean", "sum", "avg_pool2d", "avg_pool3d", "max_pool2d", "max_pool3d", "max_pool2d_with_indices",
        "max_pool3d_with_indices", "_adaptive_avg_pool2d", "_adaptive_avg_pool3d", "adaptive_avg_pool3d",
        # dropout
        "dropout", "native_dropout", "bernoulli_", "feature_dropout",
        # data movement and allocation
        "view", "_unsafe_view", "reshape", "flatten", "t", "transpose", "permute", "expand", "squeeze",
        "unsqueeze", "clone", "detach", "alias", "_to_copy", "copy_", "contiguous", "empty", "empty_like",
        "empty_strided", "zeros", "zeros_like", "ones", "ones_like", "fill_", "zero_", "slice", "select",
        "cat", "stack", "split", "split_with_sizes", "as_strided", "lift_fresh", "new_empty", "new_zeros",
    }
)


@dataclass(frozen=True)
class MeasuredComplexity:
    """What counting a built model found."""

    macs: int
    params: int
    params_without_bn: int
    uncounted: dict[str, int] = field(default_factory=dict)  # operator -> calls it could not count

    @property
    def complete(self) -> bool:
        return not self.uncounted

    def as_dict(self) -> dict[str, Any]:
        return {
            "macs": self.macs,
            "params": self.params,
            "params_without_bn": self.params_without_bn,
            "uncounted_ops": dict(self.uncounted),
        }


class _OperatorCounter(TorchDispatchMode):
    """Sums FLOPs of the operators PyTorch has formulas for; records every other one."""

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0
        self.uncounted: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        packet = func._overloadpacket
        if packet in flop_registry:
            self.flops += int(flop_registry[packet](*args, **kwargs, out_val=out))
        elif packet.__name__ not in NOT_COUNTED_BY_CONVENTION:
            self.uncounted[f"aten.{packet.__name__}"] += 1
        return out


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(all parameters, parameters outside batch-norm layers)."""
    total = sum(p.numel() for p in model.parameters())
    bn = sum(
        p.numel()
        for module in model.modules()
        if isinstance(module, nn.modules.batchnorm._BatchNorm)
        for p in module.parameters(recurse=False)
    )
    return total, total - bn


def measure_complexity(model: nn.Module, input_shape: tuple[int, ...], *, device: str | torch.device = "meta") -> MeasuredComplexity:
    """Count MACs of one forward pass of ``model`` (in eval mode) on an input of ``input_shape``.

    The model is moved to ``device`` (meta by default: shapes only, no memory).
    """
    model = model.to(device).eval()
    params, params_without_bn = count_parameters(model)
    counter = _OperatorCounter()
    with torch.no_grad(), counter:
        model(torch.zeros(input_shape, device=device))
    return MeasuredComplexity(
        macs=counter.flops // 2,
        params=params,
        params_without_bn=params_without_bn,
        uncounted=dict(counter.uncounted),
    )
