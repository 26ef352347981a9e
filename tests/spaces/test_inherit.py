"""Growing a trained network into a candidate keeps what it computes (Net2Net), or says why it cannot."""

from __future__ import annotations

import pytest
import torch

from spaces import get_space
from spaces.errors import InheritanceError
from spaces.x3d.inherit import channel_layout

PROXY_SPACES = {
    "x3d": {"num_classes": 12, "base_crop": 48, "base_stride": 8, "head_width": 256, "stage_blocks": [1, 1, 2, 1]},
    "x2d-image": {"num_classes": 10, "base_crop": 32, "head_width": 256, "stage_blocks": [1, 1, 2, 1]},
}
#: Points to grow from: the base, and one already wider, deeper and with a larger bottleneck (SE on blocks 0, 2, ...).
STARTS = {"base": {}, "grown": {"width": 1.4142, "bottleneck": 2.25, "depth": 2.2, "crop": 40}}


def _trained_looking(space, point, seed: int = 0):
    """A network of ``point`` whose batch norms are not at their initial values (as after training): else a zero
    residual scale would hide a wrong expansion of the branch."""
    torch.manual_seed(seed)
    model = space.build(point)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def _cases():
    for name in PROXY_SPACES:
        space = get_space(name, **PROXY_SPACES[name])
        for start in STARTS:
            for operation in space.operations:
                yield name, start, operation.name


@pytest.mark.parametrize("name,start,operation", list(_cases()))
def test_a_grown_candidate_computes_what_its_parent_did(name, start, operation):
    space = get_space(name, **PROXY_SPACES[name])
    parent_point = space.point({**space.base, **STARTS[start]})
    parent = _trained_looking(space, parent_point)
    child = space.build(space.expand(parent_point, operation))
    state = space.grow_weights(parent_point, parent.state_dict(), child, seed=3)
    child.load_state_dict(state)
    rule = space.weight_transfer[operation]
    if rule == "copy":  # only the input changes: the very same weights
        assert state.keys() == parent.state_dict().keys()
        assert all(torch.equal(state[k], v) for k, v in parent.state_dict().items())
        return
    assert sum(v.numel() for v in state.values()) > sum(v.numel() for v in parent.state_dict().values())
    inputs = torch.randn(*space.input_shape(parent_point, batch=2), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before, after = parent(inputs), child.eval()(inputs)
    assert before.abs().max() > 1e-3  # a network that computes something
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-5)


def test_widening_copies_channels_and_splits_what_reads_them():
    space = get_space("x3d", **PROXY_SPACES["x3d"])
    parent = _trained_looking(space, space.base)
    child = space.build(space.expand(space.base, "width"))
    state = space.grow_weights(space.base, parent.state_dict(), child, seed=0)
    old, new = parent.state_dict()["stem.conv_xy.weight"], state["stem.conv_xy.weight"]
    assert new.shape[0] > old.shape[0] and torch.equal(new[: old.shape[0]], old)  # old channels kept in place
    assert all(any(torch.equal(row, o) for o in old) for row in new[old.shape[0] :])  # new ones copy old ones
    copied = [next(j for j, o in enumerate(old) if torch.equal(row, o)) for row in new]
    reading, before = state["stages.0.0.branch.0.weight"], parent.state_dict()["stages.0.0.branch.0.weight"]
    summed = torch.zeros(reading.shape[0], *before.shape[1:]).index_add_(1, torch.tensor(copied), reading)
    torch.testing.assert_close(summed[: before.shape[0]], before)  # over the copies of each channel: the old weight
    assert any(copied.count(j) > 1 for j in set(copied)) and not torch.equal(reading[:, : old.shape[0]], before)


def test_the_same_seed_grows_the_same_weights_and_another_seed_other_copies():
    space = get_space("x3d", **PROXY_SPACES["x3d"])
    parent = _trained_looking(space, space.base)
    child = space.build(space.expand(space.base, "width"))
    grow = lambda seed: space.grow_weights(space.base, parent.state_dict(), child, seed=seed)  # noqa: E731
    first, again, other = grow(5), grow(5), grow(6)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert any(not torch.equal(first[k], other[k]) for k in first)


@pytest.mark.parametrize("operation,why", [("width", "narrow"), ("bottleneck", "narrow"), ("depth", "dropped")])
def test_a_contraction_that_narrows_or_drops_layers_is_refused_by_name(operation, why):
    space = get_space("x3d", **PROXY_SPACES["x3d"])
    parent_point = space.expand(space.base, operation)
    parent = _trained_looking(space, parent_point)
    child = space.build(space.base)
    with pytest.raises(InheritanceError, match=why):
        space.grow_weights(parent_point, parent.state_dict(), child)


def test_a_contraction_of_the_input_copies_the_parent():
    space = get_space("x3d", **PROXY_SPACES["x3d"])
    parent_point = space.point({**space.base, "frames": 8, "stride": 2})
    contracted = space.contractions(parent_point, "temporal")[0]
    parent = _trained_looking(space, parent_point)
    state = space.grow_weights(parent_point, parent.state_dict(), space.build(contracted))
    assert all(torch.equal(state[k], v) for k, v in parent.state_dict().items())


def test_other_classes_are_refused():
    space = get_space("x3d", **PROXY_SPACES["x3d"])
    parent = _trained_looking(space, space.base)
    with pytest.raises(InheritanceError, match="classes"):
        space.grow_weights(space.base, parent.state_dict(), space.build(space.base, num_classes=5))


def test_every_tensor_of_both_networks_has_a_place_in_the_layout():
    for name, settings in PROXY_SPACES.items():
        space = get_space(name, **settings)
        point = space.point({**space.base, **STARTS["grown"]})
        model = space.build(point)
        assert set(channel_layout(model)) == set(model.state_dict())


def test_every_space_declares_rules_only_for_its_operations(any_space):
    rules = dict(any_space.weight_transfer)
    assert set(rules) <= {op.name for op in any_space.operations}
    assert set(rules.values()) <= {"copy", "widen", "deepen"}
    if not rules:  # a space without rules (a plugin) says so, and its candidates train from scratch
        with pytest.raises(InheritanceError, match="from scratch"):
            any_space.grow_weights(any_space.base, {}, None)
