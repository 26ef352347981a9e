"""A trained X3D-style network grown into a larger one without changing what it computes (Net2Net).

A coordinate step's candidate differs from its parent in one axis, and the parent is already trained. Its
weights become the candidate's by three rules (Chen, Goodfellow and Shlens, *Net2Net*, ICLR 2016):

- **copy**: frames, stride and crop change only the input; with global pooling before the head the same
  weights fit the candidate, bit for bit;
- **widen**: a wider layer copies each old channel and gives each new channel a copy of a (seeded) random old
  one; the weights that read a copied channel are split among its copies, so every sum is unchanged; batch
  norm, biases and squeeze-excitation follow their channels;
- **deepen**: a block added to a stage starts as the identity: its residual branch ends in a batch norm whose
  scale and shift are zero, and the block's ReLU passes the previous block's (non-negative) output unchanged.

In eval mode the grown network's output equals the parent's within float rounding (a test checks it for every
operation of both X3D spaces). Narrowing and dropping blocks (a contraction of width, bottleneck or depth)
cannot keep the function, so they are refused here and such a candidate trains from scratch.

The channel *spaces* of the network are what the rules act on: the stem's channels, each stage's residual
stream (shared by every block of the stage and its shortcut), each block's inner width and SE width, conv5's
width, the head's width and the classes. :func:`channel_layout` names, for every weight, the space of its output
and input dimension; every weight over one space is mapped with the same channel map.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import InheritanceError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch
    from torch import nn

    from ..point import Point
    from ..space import SearchSpace

#: How the candidates of X3D's operations (and the image space's, which has a subset) inherit their parent's weights.
X3D_WEIGHT_TRANSFER = {
    "fast": "copy",
    "temporal": "copy",
    "spatial": "copy",
    "width": "widen",
    "bottleneck": "widen",
    "depth": "deepen",
}


def grow_into(
    space: "SearchSpace",
    parent: "Point",
    parent_state: Mapping[str, "torch.Tensor"],
    child: "nn.Module",
    *,
    seed: int = 0,
) -> dict[str, "torch.Tensor"]:
    """``child``'s state dict grown from the trained ``parent_state`` of ``parent`` (a point of ``space``)."""
    import torch

    classes = child.head.classifier.out_features if hasattr(child, "head") else None
    with torch.device("meta"):  # the parent's layout needs its structure only, not its weights
        parent_model = space.build(parent, classes)
    return grow_state(parent_state, channel_layout(parent_model), child, seed=seed)


@dataclass(frozen=True)
class Slot:
    """Where one tensor of a network sits: its kind and the channel spaces of its output and input dimension.

    ``kind`` is ``conv`` (a dense conv or linear layer: output and input dimensions both mapped, inputs split
    among copies), ``depthwise`` (one filter per channel: only the output dimension mapped), ``vector`` (a bias
    or a batch-norm tensor over ``out``) or ``scalar`` (a batch-norm counter, copied).
    """

    kind: str
    out: str | None = None
    inn: str | None = None


def _conv_slots(prefix: str, conv: "nn.Module", out: str, inn: str) -> dict[str, Slot]:
    depthwise = conv.groups > 1
    if depthwise and not conv.groups == conv.in_channels == conv.out_channels:
        raise InheritanceError(f"{prefix}: a grouped conv that is not depthwise cannot be widened")
    slots = {f"{prefix}.weight": Slot("depthwise", out) if depthwise else Slot("conv", out, inn)}
    if getattr(conv, "bias", None) is not None:
        slots[f"{prefix}.bias"] = Slot("vector", out)
    return slots


def _norm_slots(prefix: str, space: str) -> dict[str, Slot]:
    slots = {f"{prefix}.{name}": Slot("vector", space) for name in ("weight", "bias", "running_mean", "running_var")}
    slots[f"{prefix}.num_batches_tracked"] = Slot("scalar")
    return slots


def _sequence_slots(prefix: str, modules, current: str, conv_spaces: list[str]) -> tuple[dict[str, Slot], str]:
    """Slots of layers applied in order; dense convs take the next of ``conv_spaces`` as their output space."""
    from torch import nn

    from .modules import SqueezeExcitation

    slots: dict[str, Slot] = {}
    spaces = iter(conv_spaces)
    for name, module in modules:
        where = f"{prefix}.{name}"
        if isinstance(module, (nn.Conv2d, nn.Conv3d)):
            out = current if module.groups > 1 else next(spaces)
            slots.update(_conv_slots(where, module, out, current))
            current = out
        elif isinstance(module, (nn.BatchNorm2d, nn.BatchNorm3d)):
            slots.update(_norm_slots(where, current))
        elif isinstance(module, SqueezeExcitation):
            se = f"{prefix}.se"
            slots.update(_conv_slots(f"{where}.fc1", module.fc1, se, current))
            slots.update(_conv_slots(f"{where}.fc2", module.fc2, current, se))
        elif any(True for _ in module.parameters()) or any(True for _ in module.buffers()):
            raise InheritanceError(f"{where}: a {type(module).__name__} with weights has no inheritance rule")
    return slots, current


def channel_layout(model: "nn.Module") -> dict[str, Slot]:
    """Every tensor of an X3D or X2D-image network (:class:`~spaces.x3d.modules.X3DNet`) with its channel spaces."""
    from .modules import X3DNet, X3DStem

    if not isinstance(model, X3DNet):
        raise InheritanceError(f"a {type(model).__name__} is not an X3D-style network")
    slots: dict[str, Slot] = {}
    stem = model.stem
    if isinstance(stem, X3DStem):
        parts = [("conv_xy", stem.conv_xy), ("conv_t", stem.conv_t), ("norm", stem.norm)]
    else:
        parts = list(stem.named_children())
    stem_slots, current = _sequence_slots("stem", parts, "input", ["stem"])
    slots.update(stem_slots)
    for i, stage in enumerate(model.stages):
        stream = f"stage{i}"
        for j, block in enumerate(stage):
            prefix = f"stages.{i}.{j}"
            branch, _ = _sequence_slots(
                f"{prefix}.branch", block.branch.named_children(), current, [f"{prefix}.inner", stream]
            )
            slots.update(branch)
            if block.shortcut is not None:
                shortcut, _ = _sequence_slots(f"{prefix}.shortcut", block.shortcut.named_children(), current, [stream])
                slots.update(shortcut)
            current = stream
    head = model.head
    conv5, current = _sequence_slots("head.conv5", head.conv5.named_children(), current, ["conv5"])
    fc1, current = _sequence_slots("head.fc1", head.fc1.named_children(), current, ["head"])
    slots.update(conv5 | fc1)
    slots["head.classifier.weight"] = Slot("conv", "classes", current)
    slots["head.classifier.bias"] = Slot("vector", "classes")
    return slots


def _space_sizes(state: Mapping[str, "torch.Tensor"], layout: Mapping[str, Slot]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for name, slot in layout.items():
        if slot.kind in ("conv", "depthwise", "vector"):
            sizes.setdefault(slot.out, int(state[name].shape[0]))
        if slot.kind == "conv":
            sizes.setdefault(slot.inn, int(state[name].shape[1]))
    return sizes


def _channel_maps(parent: Mapping[str, int], child: Mapping[str, int], seed: int) -> dict[str, "torch.Tensor"]:
    """For every channel space the child shares with the parent: which old channel each new channel copies."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    maps = {}
    for space in sorted(child):
        old, new = parent[space], child[space]
        if new < old:
            raise InheritanceError(f"{space} would narrow from {old} to {new} channels: that cannot keep the function")
        extra = torch.randint(0, old, (new - old,), generator=generator)
        maps[space] = torch.cat([torch.arange(old), extra])
    return maps


def _block_of(name: str) -> tuple[int, int] | None:
    parts = name.split(".")
    return (int(parts[1]), int(parts[2])) if parts[0] == "stages" else None


def _check_depth(parent_state: Mapping[str, "torch.Tensor"], child_layout: Mapping[str, Slot]) -> None:
    """The child keeps every parent block (it may add blocks at the end of a stage, never drop one)."""
    child_blocks = {_block_of(name) for name in child_layout} - {None}
    parent_blocks = {_block_of(name) for name in parent_state} - {None}
    dropped = sorted(parent_blocks - child_blocks)
    if dropped:
        stage, block = dropped[0]
        raise InheritanceError(f"block {block} of stage {stage} would be dropped: that cannot keep the function")


def grow_state(
    parent_state: Mapping[str, "torch.Tensor"], parent_layout: Mapping[str, Slot], child: "nn.Module", *, seed: int = 0
) -> dict[str, "torch.Tensor"]:
    """The child's state dict grown from the parent's trained one; blocks the parent lacks keep the child's own
    initialisation (identity in eval mode, as built). Raises :class:`InheritanceError` where no rule applies."""
    layout = channel_layout(child)
    _check_depth(parent_state, layout)
    child_state = child.state_dict()
    parent_sizes = _space_sizes(parent_state, parent_layout)
    shared = {name for name in layout if name in parent_state}
    child_sizes = {space: size for space, size in _space_sizes(child_state, layout).items() if space in parent_sizes}
    if parent_sizes.get("classes") != child_sizes.get("classes"):
        raise InheritanceError(
            f"the candidate has {child_sizes.get('classes')} classes, its parent {parent_sizes.get('classes')}"
        )
    maps = _channel_maps(parent_sizes, child_sizes, seed)
    grown = dict(child_state)
    for name in shared:
        if layout[name] != parent_layout.get(name):
            raise InheritanceError(f"{name} plays another part in the candidate than in its parent")
        grown[name] = _grow_tensor(parent_state[name], layout[name], maps, parent_sizes)
    return grown


def _grow_tensor(
    tensor: "torch.Tensor", slot: Slot, maps: Mapping[str, "torch.Tensor"], parent_sizes: Mapping[str, int]
) -> "torch.Tensor":
    import torch

    if slot.kind == "scalar":
        return tensor.clone()
    grown = tensor.index_select(0, maps[slot.out])
    if slot.kind != "conv":
        return grown
    in_map = maps[slot.inn]
    copies = torch.bincount(in_map, minlength=parent_sizes[slot.inn]).to(tensor.dtype)
    grown = grown.index_select(1, in_map)
    if bool((copies[in_map] == 1).all()):
        return grown  # no input channel was copied: bit for bit
    shape = (1, -1) + (1,) * (tensor.dim() - 2)
    return grown / copies[in_map].reshape(shape)
