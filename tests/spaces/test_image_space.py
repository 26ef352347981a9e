"""The X2D image space: exact golden counts, the 2D network it builds, and what building imports.

Golden integers (x2d_image_complexity.json) catch drift, as pycls does; the
cross-check against X3D derives the same figures independently: the image
network is X3D's at one frame without the time axis, so the two differ by
exactly X3D's temporal stem conv and the temporal taps of its depthwise convs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from estimators.counting import measure_complexity
from spaces import SpaceError, get_space
from spaces.x3d.blocks import LayerTypes

EXACT = json.loads((Path(__file__).parent / "x2d_image_complexity.json").read_text())


@pytest.fixture(scope="module")
def image():
    return get_space("x2d-image")


@pytest.mark.parametrize("name", list(EXACT))
def test_exact_golden_counts(image, name):
    expected = EXACT[name]
    point = image.preset(name)
    assert point.key == expected["point"]
    assert image.complexity(point).as_dict() == {
        k: expected[k] for k in ("macs", "params", "params_without_bn", "activations")
    }


@pytest.mark.parametrize("name", ["X2D", "S", "L"])
def test_it_is_x3d_at_one_frame_without_the_time_axis(image, name):
    """X3D at 1 frame (same crop, multipliers and classes) minus its temporal stem conv and depthwise temporal taps."""
    point = image.preset(name)
    x3d = get_space("x3d", num_classes=1000)
    video = x3d.complexity(x3d.point(frames=1, **point.as_dict()))
    arch = image.architecture(point)
    parts = {part.name: part for part in image.complexity_parts(point)}
    _, stem_h, stem_w = parts["stem"].out_shape
    temporal_stem = arch.stem_width * 5  # 5x1x1 depthwise: 5 weights and 5 MACs per output
    extra_macs, extra_params = temporal_stem * stem_h * stem_w, temporal_stem
    for stage in arch.stages:  # 3x3x3 against 3x3 depthwise: 18 more weights and MACs per output
        _, h, w = parts[stage.name].out_shape
        extra_macs += stage.blocks * stage.inner_width * h * w * 18
        extra_params += stage.blocks * stage.inner_width * 18
    cost = image.complexity(point)
    assert (video.macs - cost.macs, video.params - cost.params) == (extra_macs, extra_params)


def test_the_network_is_2d_and_counts_exactly(image):
    point = image.preset("S")
    model = image.build(point, num_classes=10)
    kinds = {type(m) for m in model.modules()}
    assert nn.Conv2d in kinds and nn.BatchNorm2d in kinds and not kinds & {nn.Conv3d, nn.BatchNorm3d}
    depthwise = model.stages[0][0].branch[3]
    assert depthwise.kernel_size == (3, 3) and depthwise.stride == (2, 2) and depthwise.groups == 54
    assert image.input_shape(point, batch=2) == (2, 3, 160, 160)
    with torch.device("meta"):
        meta = image.build(point, num_classes=10)
    measured = measure_complexity(meta, image.input_shape(point))
    analytic = image.complexity(point, num_classes=10)
    assert not measured.uncounted and (measured.macs, measured.params) == (analytic.macs, analytic.params)


def test_forward_gives_logits_of_batch_by_classes(image):
    torch.manual_seed(0)
    point = image.parse_point("crop=32,width=0.5,bottleneck=2.25")
    model = image.build(point, num_classes=7).eval()
    with torch.no_grad():
        logits = model(torch.randn(image.input_shape(point, batch=2)))
    assert logits.shape == (2, 7) and torch.isfinite(logits).all()


def test_bad_settings_are_named():
    with pytest.raises(SpaceError, match="no setting 'frames'"):
        get_space("x2d-image", frames=4)
    with pytest.raises(SpaceError, match="base_crop = 4"):
        get_space("x2d-image", base_crop=4)
    with pytest.raises(SpaceError, match="dims=2, got 3"):
        get_space("x2d-image").build(get_space("x2d-image").base, layers=LayerTypes())


def test_counting_imports_nothing_and_building_imports_only_torch():
    """Another project reuses spaces with only torch installed: nothing of the toolkit's other packages may load."""
    code = (
        "import sys; from spaces import get_space; s = get_space('x2d-image'); s.complexity(s.preset('M'))\n"
        "assert 'torch' not in sys.modules, 'counting imported torch'\n"
        "s.build(s.preset('S'), num_classes=5)\n"
        "banned = ('estimators', 'nas', 'optuna', 'nni', 'lmdb', 'sklearn', 'yaml', 'h5py', 'av')\n"
        "print([m for m in sys.modules if m.split('.')[0] in banned])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
