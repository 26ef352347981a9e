"""The built X3D network: architecture, exact counts on 200+ points, forward passes."""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from estimators.counting import measure_complexity
from spaces import get_space
from spaces.x3d.modules import SqueezeExcitation, X3DBlock

RANDOM_POINTS = 64  # each count is a meta-device forward of about half a second
CHUNKS = 4  # so that pytest-xdist spreads the 200 points over the workers


@pytest.fixture(scope="module")
def x3d():
    return get_space("x3d")


def _random_points(space, count: int):
    """``count`` distinct points, half on the ladders, half anywhere in range."""
    rng = random.Random(2020)
    points: dict = {}
    while len(points) < count:
        point = space.sample(rng, on_ladder=len(points) < count // 2)
        points.setdefault(point, None)
    return list(points)


def test_random_points_are_distinct_and_span_the_ranges(x3d):
    points = _random_points(x3d, RANDOM_POINTS)
    assert len(set(points)) == RANDOM_POINTS
    assert sum(not all(x3d.axis(n).on_ladder(v) for n, v in p.items()) for p in points) >= RANDOM_POINTS // 2


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_built_models_match_the_analytic_counts_exactly(x3d, chunk):
    """Every preset and 64 random points (ladder and off-ladder): params and MACs equal, nothing uncounted."""
    points = list(x3d.presets.values()) + _random_points(x3d, RANDOM_POINTS)
    for point in points[chunk::CHUNKS]:
        analytic = x3d.complexity(point)
        with torch.device("meta"):
            model = x3d.build(point)
        measured = measure_complexity(model, x3d.input_shape(point))
        assert measured.uncounted == {}, point.key
        assert measured.params == analytic.params, point.key
        assert measured.params_without_bn == analytic.params_without_bn, point.key
        assert measured.macs == analytic.macs, point.key


def test_block_structure_follows_the_reference(x3d):
    model = x3d.build(x3d.preset("XS"))
    res2 = model.stages[0]
    assert all(isinstance(block, X3DBlock) for block in res2)
    se_flags = [any(isinstance(m, SqueezeExcitation) for m in block.branch) for block in res2]
    assert se_flags == [True, False, True]
    assert res2[0].shortcut is not None and res2[1].shortcut is None
    depthwise = res2[0].branch[3]
    assert isinstance(depthwise, nn.Conv3d) and depthwise.groups == 54 and depthwise.stride == (1, 2, 2)
    kinds = [type(m).__name__ for m in res2[0].branch]
    assert kinds == [
        "Conv3d",
        "BatchNorm3d",
        "ReLU",
        "Conv3d",
        "BatchNorm3d",
        "SqueezeExcitation",
        "SiLU",
        "Conv3d",
        "BatchNorm3d",
    ]
    assert torch.count_nonzero(res2[0].branch[-1].weight) == 0  # zero-initialised last BN
    assert any(isinstance(m, nn.SiLU) for m in res2[0].branch)
    assert model.head.fc1[0].bias is None and model.head.classifier.out_features == 400
    assert model.head.dropout.p == 0.5


@pytest.mark.parametrize(
    "point_text", ["crop=32", "frames=3,crop=48,bottleneck=2.25,depth=2.2", "frames=2,crop=40,width=0.5"]
)
def test_forward_gives_logits_of_batch_by_classes(x3d, point_text):
    torch.manual_seed(0)
    point = x3d.parse_point(point_text)
    model = x3d.build(point, num_classes=7).eval()
    with torch.no_grad():
        logits = model(torch.randn(x3d.input_shape(point, batch=2)))
    assert logits.shape == (2, 7) and torch.isfinite(logits).all()


def test_one_training_step_changes_the_weights(x3d):
    torch.manual_seed(0)
    point = x3d.parse_point("frames=2,crop=32")
    model = x3d.build(point, num_classes=3).train()
    before = model.head.classifier.weight.detach().clone()
    loss = nn.functional.cross_entropy(model(torch.randn(x3d.input_shape(point, batch=4))), torch.tensor([0, 1, 2, 0]))
    loss.backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert not torch.equal(before, model.head.classifier.weight)


def test_a_different_base_network_still_counts_exactly():
    """Base settings reach builder and complexity alike: 5x5 depthwise kernels, SE on every block, 3 stages."""
    from spaces.x3d import X3DSpace

    space = X3DSpace(
        block_spatial_kernel=5, se_every=1, stage_widths=(16, 32, 64), stage_blocks=(1, 2, 2), num_classes=9
    )
    point = space.parse_point("frames=3,crop=64,bottleneck=2.25,depth=2.2")
    with torch.device("meta"):
        model = space.build(point)
    measured = measure_complexity(model, space.input_shape(point))
    analytic = space.complexity(point)
    assert (measured.macs, measured.params) == (analytic.macs, analytic.params) and not measured.uncounted
    assert model.stages[0][0].branch[3].kernel_size == (3, 5, 5) and len(model.stages) == 3
