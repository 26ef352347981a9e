"""The published X3D figures (../shared/X3D.md), reproduced by the analytic complexity.

Two layers of golden values, as pycls does: the published figures at their
published precision, and exact integers (x3d_complexity.json, written when the
published figures were first matched) that catch any later drift.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spaces import get_space

#: Published: GMACs (conv + linear multiply-adds, training crop, batch 1),
#: params with BN (M), params without BN (M), blocks per stage.
PUBLISHED = {
    "X2D": {"gmacs": None, "mmacs": 20.66, "params": 1.634, "params_without_bn": None, "blocks": (1, 2, 5, 3)},
    "XS": {"gmacs": 0.605, "params": 3.794, "params_without_bn": 3.763, "blocks": (3, 5, 11, 7)},
    "S": {"gmacs": 1.963, "params": 3.794, "params_without_bn": 3.763, "blocks": (3, 5, 11, 7)},
    "M": {"gmacs": 4.732, "params": 3.794, "params_without_bn": 3.763, "blocks": (3, 5, 11, 7)},
    "L": {"gmacs": 18.368, "params": 6.153, "params_without_bn": 6.087, "blocks": (5, 10, 25, 15)},
}
PUBLISHED_POINTS = {
    "X2D": (1, 24, 112),
    "XS": (4, 12, 160),
    "S": (13, 6, 160),
    "M": (16, 5, 224),
    "L": (16, 5, 312),
}
EXACT = json.loads((Path(__file__).parent / "x3d_complexity.json").read_text())


@pytest.fixture(scope="module")
def x3d():
    return get_space("x3d")


@pytest.mark.parametrize("preset", list(PUBLISHED))
def test_published_figures(x3d, preset):
    point = x3d.preset(preset)
    published = PUBLISHED[preset]
    assert (point["frames"], point["stride"], point["crop"]) == PUBLISHED_POINTS[preset]
    cost = x3d.complexity(point)
    if published["gmacs"] is not None:
        assert round(cost.macs / 1e9, 3) == published["gmacs"]
    else:
        assert round(cost.macs / 1e6, 2) == published["mmacs"]
    assert round(cost.params / 1e6, 3) == published["params"]
    if published["params_without_bn"] is not None:
        assert round(cost.params_without_bn / 1e6, 3) == published["params_without_bn"]
    assert tuple(stage.blocks for stage in x3d.architecture(point).stages) == published["blocks"]


@pytest.mark.parametrize("name", list(EXACT))
def test_exact_golden_counts(name):
    expected = EXACT[name]
    space = get_space("x3d", num_classes=expected.get("num_classes", 400))
    point = space.parse_point(expected["point"])
    assert space.complexity(point).as_dict() == {
        k: expected[k] for k in ("macs", "params", "params_without_bn", "activations")
    }


def test_xs_widths_match_the_reference(x3d):
    arch = x3d.architecture(x3d.preset("XS"))
    assert arch.stem_width == 24
    assert [s.out_width for s in arch.stages] == [24, 48, 96, 192]
    assert [s.inner_width for s in arch.stages] == [54, 108, 216, 432]
    assert [s.se_width for s in arch.stages] == [8, 8, 16, 32]
    assert arch.stages[0].se_blocks == (True, False, True)
    assert (arch.conv5_width, arch.head_width) == (432, 2048)
