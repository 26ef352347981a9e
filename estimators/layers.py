"""The layers a built network runs, with the inputs each sees: what a per-layer latency table is keyed by.

One forward pass on PyTorch's meta device (shapes only, nothing computed)
with a forward hook on every leaf module lists each leaf layer call (conv,
batch norm, activation, pooling, linear, ...) with its input shapes.  Work a
network does outside its leaf modules — the residual add of a block, the
gating multiply of squeeze-excitation, a flatten — is listed too, as *glue*
operators, seen by a dispatch mode while no leaf module is running: leaving
it out would make every network look faster than it is.  Nothing here is
specific to a space: any ``nn.Module`` is walked the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spaces.errors import NasError


@dataclass(frozen=True)
class TensorSpec:
    """A tensor argument, by shape and dtype only (it is made anew, filled with random values, to be timed)."""

    shape: tuple[int, ...]
    dtype: str

    @property
    def numel(self) -> int:
        count = 1
        for size in self.shape:
            count *= size
        return count


@dataclass(frozen=True)
class LayerCall:
    """One call of a leaf module: its key (configuration and input shapes), the module itself and its arguments."""

    key: str
    module: Any  # the leaf nn.Module, on the meta device
    args: tuple[Any, ...]  # TensorSpec in place of every tensor
    out_numel: int


@dataclass(frozen=True)
class GlueCall:
    """One operator run outside every leaf module (a residual add, a gating multiply)."""

    key: str
    op: Any  # the aten operator
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class NetworkLayers:
    layers: list[LayerCall]
    glue: list[GlueCall]

    def keys(self) -> list[str]:
        return [call.key for call in self.layers] + [call.key for call in self.glue]


def _spec_tree(value: Any) -> Any:
    """Arguments with every tensor replaced by its :class:`TensorSpec` (lists and tuples walked)."""
    import torch

    if isinstance(value, torch.Tensor):
        return TensorSpec(tuple(value.shape), str(value.dtype).removeprefix("torch."))
    if isinstance(value, (list, tuple)):
        return type(value)(_spec_tree(v) for v in value)
    if isinstance(value, dict):
        return {k: _spec_tree(v) for k, v in value.items()}
    return value


def _describe(value: Any) -> str:
    if isinstance(value, TensorSpec):
        return f"{value.dtype}{list(value.shape)}"
    if isinstance(value, (list, tuple)):
        return "(" + ",".join(_describe(v) for v in value) + ")"
    return repr(value)


def layer_key(module: Any, args: tuple[Any, ...]) -> str:
    """Class, configuration (``extra_repr``), parameter and buffer shapes, and input shapes: equal keys time alike."""
    kind = type(module)
    tensors = [
        f"{name}{list(t.shape)}"
        for name, t in [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]
        if t is not None
    ]
    return f"{kind.__module__}.{kind.__qualname__}({module.extra_repr()}) [{' '.join(tensors)}] <- {_describe(args)}"


def glue_key(op: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    extra = "".join(f",{k}={_describe(v)}" for k, v in sorted(kwargs.items()))
    return f"{op} <- {_describe(args)}{extra}"


def _leaves(model: Any) -> list[Any]:
    return [m for m in model.modules() if next(m.children(), None) is None]


def list_layers(model: Any, input_shape: tuple[int, ...]) -> NetworkLayers:
    """Every leaf-layer call and glue operator of one eval-mode forward pass of ``model`` at ``input_shape``.

    A model built on the meta device (``with torch.device("meta"): space.build(point)``)
    is listed as it is; any other is copied to meta first, so it is left untouched.
    Meta tensors hold no data, so even a large network is listed in milliseconds.
    """
    import copy

    import torch

    from .torch_private import TorchDispatchMode

    layers: list[LayerCall] = []
    glue: list[GlueCall] = []
    depth = [0]

    class GlueRecorder(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if depth[0] == 0:
                spec_args, spec_kwargs = _spec_tree(tuple(args)), _spec_tree(dict(kwargs))
                glue.append(GlueCall(glue_key(func, spec_args, spec_kwargs), func, spec_args, spec_kwargs))
            return func(*args, **kwargs)

    def before(module, args):
        depth[0] += 1

    def after(module, args, output):
        depth[0] -= 1
        spec_args = _spec_tree(tuple(args))
        out = output.numel() if isinstance(output, torch.Tensor) else 0
        layers.append(LayerCall(layer_key(module, spec_args), module, spec_args, out))

    if any(not t.is_meta for t in [*model.parameters(), *model.buffers()]):
        model = copy.deepcopy(model).to("meta")
    model.eval()
    handles = []
    for leaf in _leaves(model):
        handles += [leaf.register_forward_pre_hook(before), leaf.register_forward_hook(after)]
    try:
        inputs = torch.zeros(input_shape, device="meta")
        with torch.no_grad(), GlueRecorder():
            model(inputs)
    except (RuntimeError, NotImplementedError) as error:
        raise NasError(
            f"cannot list the layers of {type(model).__name__} at input {input_shape} on the meta device: "
            f"{str(error).splitlines()[0] if str(error) else type(error).__name__}"
        ) from None
    finally:
        for handle in handles:
            handle.remove()
    return NetworkLayers(layers, glue)
