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
from torch.utils.flop_counter import flop_registry

from .torch_private import TorchDispatchMode, overload_packet

#: Operators that cost no MACs under the published convention (BN, activations,
#: pooling, residual adds, SE gating, dropout) or that only move data.
NOT_COUNTED_BY_CONVENTION = frozenset(
    {
        # normalisation
        "native_batch_norm",
        "_native_batch_norm_legit",
        "_native_batch_norm_legit_no_training",
        "_native_batch_norm_legit_functional",
        "batch_norm",
        "cudnn_batch_norm",
        "miopen_batch_norm",
        "native_layer_norm",
        "native_group_norm",
        # activations and element-wise arithmetic
        "relu",
        "relu_",
        "sigmoid",
        "sigmoid_",
        "silu",
        "silu_",
        "hardswish",
        "hardswish_",
        "hardsigmoid",
        "gelu",
        "tanh",
        "threshold",
        "clamp",
        "clamp_min",
        "add",
        "add_",
        "mul",
        "mul_",
        "sub",
        "div",
        "neg",
        "softmax",
        "_softmax",
        "log_softmax",
        "_log_softmax",
        # pooling and reductions
        "mean",
        "sum",
        "avg_pool2d",
        "avg_pool3d",
        "max_pool2d",
        "max_pool3d",
        "max_pool2d_with_indices",
        "max_pool3d_with_indices",
        "_adaptive_avg_pool2d",
        "_adaptive_avg_pool3d",
        "adaptive_avg_pool3d",
        # dropout
        "dropout",
        "native_dropout",
        "bernoulli_",
        "feature_dropout",
        # data movement and allocation
        "view",
        "_unsafe_view",
        "reshape",
        "flatten",
        "t",
        "transpose",
        "permute",
        "expand",
        "squeeze",
        "unsqueeze",
        "clone",
        "detach",
        "alias",
        "_to_copy",
        "copy_",
        "contiguous",
        "empty",
        "empty_like",
        "empty_strided",
        "zeros",
        "zeros_like",
        "ones",
        "ones_like",
        "fill_",
        "zero_",
        "slice",
        "select",
        "cat",
        "stack",
        "split",
        "split_with_sizes",
        "as_strided",
        "lift_fresh",
        "new_empty",
        "new_zeros",
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
        packet = overload_packet(func)
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


def measure_complexity(
    model: nn.Module, input_shape: tuple[int, ...], *, device: str | torch.device = "meta"
) -> MeasuredComplexity:
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


#: Layer types whose MACs the published convention (and the analytic count) includes: convolutions and linear layers.
CONVENTION_LAYERS = ("Conv1d", "Conv2d", "Conv3d", "Linear")


@dataclass(frozen=True)
class ThopCount:
    """thop's count of one forward pass: its total and what each layer type contributed."""

    macs: int
    params: int
    macs_by_layer_type: dict[str, int]

    @property
    def convention_macs(self) -> int:
        """thop's MACs of convolutions and linear layers alone: what the analytic count counts."""
        return sum(v for k, v in self.macs_by_layer_type.items() if k in CONVENTION_LAYERS)

    @property
    def beyond_convention(self) -> dict[str, int]:
        """What thop counts that the convention leaves out (batch norm, pooling), by layer type."""
        return {k: v for k, v in self.macs_by_layer_type.items() if k not in CONVENTION_LAYERS and v}


def thop_count(model: nn.Module, input_shape: tuple[int, ...], *, device: str | torch.device = "meta") -> ThopCount:
    """Count ``model`` with thop, the second, independent counter of ``nas flops --measure``.

    thop hooks modules: it also counts batch norm and pooling (which the published convention leaves out),
    and it cannot see functional operators (residual adds, SE gating, ``torch.sigmoid``), which the
    convention leaves out too; so its convolution-and-linear share is what must equal the analytic count.
    """
    import warnings

    import thop

    model = model.to(device).eval()
    types = {name: type(module).__name__ for name, module in model.named_modules()}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # thop warns about every module type it has no rule for
        total, params, layers = thop.profile(
            model,
            inputs=(torch.zeros(input_shape, device=device),),
            verbose=False,
            ret_layer_info=True,
            report_missing=False,
        )
    by_type: Counter[str] = Counter()

    def add_leaves(tree: dict[str, Any], prefix: str) -> None:
        for name, (ops, _, children) in tree.items():
            full = f"{prefix}.{name}" if prefix else name
            if children:
                add_leaves(children, full)
            else:
                by_type[types[full]] += int(ops)

    add_leaves(layers, "")
    return ThopCount(macs=int(total), params=int(params), macs_by_layer_type=dict(by_type))
