"""The measuring counter against closed-form formulas (the fvcore way), and its honesty."""

from __future__ import annotations

import torch
from torch import nn

from estimators import AnalyticComplexity, MeasuredComplexity
from estimators.counting import count_parameters, measure_complexity
from spaces import get_space


def test_conv3d_macs_follow_the_closed_form():
    conv = nn.Conv3d(6, 10, kernel_size=(3, 3, 3), stride=(1, 2, 2), padding=1, bias=True)
    measured = measure_complexity(conv, (2, 6, 5, 16, 16))
    out_elements = 2 * 10 * 5 * 8 * 8
    assert measured.macs == out_elements * 6 * 27  # bias not counted
    assert measured.params == 10 * 6 * 27 + 10


def test_depthwise_conv_counts_one_input_channel_per_output():
    conv = nn.Conv3d(12, 12, kernel_size=3, padding=1, groups=12, bias=False)
    assert measure_complexity(conv, (1, 12, 4, 8, 8)).macs == 12 * 4 * 8 * 8 * 27


def test_linear_macs_follow_the_closed_form():
    assert measure_complexity(nn.Linear(20, 7), (3, 20)).macs == 3 * 20 * 7


def test_bn_activations_pooling_are_free_and_not_reported():
    model = nn.Sequential(
        nn.BatchNorm3d(4), nn.ReLU(), nn.SiLU(), nn.Sigmoid(), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Dropout()
    )
    measured = measure_complexity(model, (2, 4, 3, 5, 5))
    assert measured.macs == 0 and measured.uncounted == {}
    assert count_parameters(model) == (8, 0)


class _Unusual(nn.Module):
    def forward(self, x):
        return torch.cumsum(x, dim=1).sort(dim=1).values


def test_unknown_operators_are_reported_not_counted_as_zero():
    measured = measure_complexity(_Unusual(), (2, 9), device="cpu")
    assert not measured.complete
    assert set(measured.uncounted) == {"aten.cumsum", "aten.sort"}


def test_estimators_agree_and_fingerprints_track_settings():
    space = get_space("x3d")
    point = space.parse_point("frames=2,crop=64,bottleneck=2.25")
    analytic = AnalyticComplexity().evaluate(space, point)
    measured = MeasuredComplexity().evaluate(space, point)
    assert measured.info["uncounted_ops"] == {}
    for key in ("macs", "params", "params_without_bn"):
        assert analytic.metrics[key] == measured.metrics[key]
    assert AnalyticComplexity().fingerprint() == AnalyticComplexity().fingerprint()
    assert AnalyticComplexity(num_classes=10).fingerprint() != AnalyticComplexity().fingerprint()


def test_thop_counts_the_convolutions_and_linear_layers_as_the_analytic_count_does():
    """thop is the second, independent counter: its conv+linear share equals the analytic MACs; what it adds
    (batch norm, pooling) is named by layer type, never silently mixed in."""
    from estimators.counting import thop_count
    from spaces import get_space

    space = get_space("x3d")
    point = space.preset("XS")
    with torch.device("meta"):
        model = space.build(point)
    counted = thop_count(model, space.input_shape(point))
    assert counted.convention_macs == space.complexity(point).macs
    assert counted.macs == counted.convention_macs + sum(counted.beyond_convention.values())
    assert set(counted.beyond_convention) == {"BatchNorm3d", "AdaptiveAvgPool3d"}
    assert counted.params == space.complexity(point).params
