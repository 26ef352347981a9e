"""X3D's axes, ladders, operations and the paper's expansion path."""

from __future__ import annotations

import pytest

from spaces import ExpansionError, get_space
from spaces.x3d import X3DBase, X3DSpace
from spaces.x3d.rounding import blocks_per_stage, inner_width, round_width


@pytest.fixture(scope="module")
def x3d():
    return get_space("x3d")


def test_ranges_hold_the_required_values(x3d):
    required = {
        "frames": (1, 64),
        "stride": (1, 48),
        "crop": (32, 448),
        "width": (0.5, 4),
        "bottleneck": (1, 8),
        "depth": (1, 10),
    }
    for name, (low, high) in required.items():
        axis = x3d.axis(name)
        assert axis.low <= low and axis.high >= high
    assert x3d.point(frames=13, crop=256)["frames"] == 13


def test_ladders_start_with_the_published_levels(x3d):
    assert x3d.axis("frames").ladder == (1, 2, 4, 8, 16, 32, 64)
    crops = x3d.axis("crop").ladder
    start = crops.index(112)
    assert crops[start : start + 4] == (112, 160, 224, 312) and crops[start - 2 : start] == (56, 80)
    assert x3d.axis("bottleneck").ladder[:3] == (1.0, 2.25, 4.5)
    assert x3d.axis("depth").ladder[:3] == (1.0, 2.2, 5.0)
    assert x3d.axis("width").ladder[2:4] == (1.0, 1.4142)
    assert {24, 12, 6, 3} <= set(x3d.axis("stride").ladder)


def test_single_steps_from_x2d_roughly_double_compute(x3d):
    """The paper's ratios: bottleneck 1.98x, frames 1.94x, spatial 1.88x, depth 1.85x, width 1.75x."""
    base = x3d.complexity(x3d.base).macs
    published = {"bottleneck": 1.98, "fast": 1.94, "temporal": 1.94, "spatial": 1.88, "depth": 1.85, "width": 1.75}
    for op, ratio in published.items():
        measured = x3d.complexity(x3d.expand(x3d.base, op)).macs / base
        assert measured == pytest.approx(ratio, abs=0.08), op


def test_the_paper_path_reaches_xs_and_s(x3d):
    """gamma_b, gamma_tau, gamma_s, gamma_d, gamma_t from X2D gives XS; two frame doublings and a contraction give S."""
    point = x3d.base
    for op in ("bottleneck", "fast", "spatial", "depth", "temporal"):
        point = x3d.expand(point, op)
    assert point == x3d.preset("XS")
    point = x3d.expand(x3d.expand(point, "fast"), "temporal")
    assert (point["frames"], point["stride"]) == (16, 6)
    fits = next(p for p in x3d.contractions(point, "temporal") if x3d.complexity(p).macs <= 2e9)
    assert fits == x3d.preset("S")


def test_fast_keeps_the_clip_duration(x3d):
    point = x3d.expand(x3d.base, "fast")
    assert (point["frames"], point["stride"]) == (2, 12)
    partial = x3d.contractions(x3d.point(frames=16, stride=6), "fast")
    assert [(p["frames"], p["stride"]) for p in partial[:3]] == [(15, 6), (14, 7), (13, 7)]
    assert (partial[-1]["frames"], partial[-1]["stride"]) == (8, 12)


def test_contraction_lands_between_ladder_levels(x3d):
    crops = [p["crop"] for p in x3d.contractions(x3d.point(crop=224), "spatial")]
    assert crops == [216, 208, 200, 192, 184, 176, 168, 160]
    widths = [p["width"] for p in x3d.contractions(x3d.point(width=1.4142), "width")]
    assert widths[-1] == 1.0 and all(1.0 < w < 1.4142 for w in widths[:-1])


def test_end_of_ladder_cannot_expand(x3d):
    top = x3d.point(frames=64)
    assert "temporal" not in x3d.expansions(top)
    with pytest.raises(ExpansionError, match="X-Temporal"):
        x3d.expand(top, "temporal")
    with pytest.raises(ExpansionError):
        x3d.expand(x3d.point(stride=1), "fast")


def test_operation_names_accept_paper_labels(x3d):
    assert x3d.expand(x3d.base, "X-Bottleneck") == x3d.expand(x3d.base, "bottleneck")


def test_rounding_rules():
    assert round_width(24, 1.0) == 24 and round_width(12, 2.0) == 24
    assert round_width(54, 1 / 16) == 8 and round_width(432, 1 / 16) == 32
    assert round_width(24, 1.4142) == 32
    assert inner_width(24, 2.25) == 54
    assert [blocks_per_stage(b, 2.2) for b in (1, 2, 5, 3)] == [3, 5, 11, 7]
    assert [blocks_per_stage(b, 5.0) for b in (1, 2, 5, 3)] == [5, 10, 25, 15]


def test_a_proxy_base_scales_ladders_and_presets():
    proxy = X3DSpace(X3DBase(num_classes=10, base_crop=56, base_stride=8))
    xs = proxy.preset("XS")
    assert (xs["frames"], xs["stride"], xs["crop"]) == (4, 4, 80)
    crops = proxy.axis("crop").ladder
    assert crops[crops.index(56) - 1 : crops.index(56) + 3] == (40, 56, 80, 112)
    assert proxy.base["crop"] == 56 and proxy.base["stride"] == 8
    assert proxy.complexity(xs).params < get_space("x3d").complexity(get_space("x3d").preset("XS")).params


def test_bad_base_network_settings_are_refused():
    from spaces import NasError

    with pytest.raises(NasError, match="num_classes"):
        X3DSpace(num_classes=0)
    with pytest.raises(NasError, match="no_such_setting"):
        X3DSpace(no_such_setting=1)
    with pytest.raises(NasError, match="base_crop"):
        X3DSpace(base_crop=1000)
