"""The example plugin package: pip-installed, found through its entry point by ``nas``, searched end to end.

The space conformance suite and the strategy conformance suite run on it
too (``tests/conftest.py`` adds it to every space they cover).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spaces import get_space, list_spaces
from tests.examples.plugin import PLUGIN_SPACE, PLUGIN_STRATEGY

#: 32-frame videos: the plugin's base clip (4 frames at stride 8) spans 32 frames.
TINY_DATA = "synth:classes=4,clips_per_class=6,frames=32,size=32,seed=3,val_fraction=0.15,test_fraction=0.15"


def nas(site: Path, tmp_path: Path, *argv: str) -> subprocess.CompletedProcess:
    """``nas ARGV`` in a fresh process that sees the plugin only through its installed entry point."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
        "NAS_CACHE_DIR": str(tmp_path / "cache"),
    }
    return subprocess.run(
        [sys.executable, "-c", "import sys; from nas.cli import main; sys.exit(main())", *argv],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_entry_point_lists_and_builds_the_space(plugin_space):
    assert PLUGIN_SPACE in list_spaces()
    space = get_space(PLUGIN_SPACE, num_classes=12)
    assert type(space).__module__.startswith("r2plus1d_space") and Path(
        sys.modules["r2plus1d_space"].__file__
    ).is_relative_to(plugin_space)


def test_r18_is_torchvisions_r2plus1d_18(plugin_space):
    """torchvision's published figures for ``r2plus1d_18``: 31,505,325 parameters, 40.52 GFLOPS at 16 x 112^2."""
    space = get_space(PLUGIN_SPACE)
    cost = space.complexity(space.preset("r18"))
    assert cost.params == 31_505_325
    assert cost.macs == 40_519_080_960 and space.input_shape(space.preset("R18")) == (1, 3, 16, 112, 112)


def test_the_base_network_classifies_a_clip(plugin_space):
    import torch

    space = get_space(PLUGIN_SPACE, num_classes=7)
    model = space.build(space.base).eval()
    with torch.no_grad():
        logits = model(torch.randn(space.input_shape(space.base, batch=2)))
    assert logits.shape == (2, 7) and torch.isfinite(logits).all()


def test_nas_lists_and_shows_the_installed_space(plugin_space, tmp_path):
    listed = nas(plugin_space, tmp_path, "space", "list")
    assert listed.returncode == 0, listed.stderr
    assert any(line.split("\t")[0] == PLUGIN_SPACE and "R18" in line for line in listed.stdout.splitlines())
    shown = nas(plugin_space, tmp_path, "flops", "--space", PLUGIN_SPACE, "--preset", "r18", "--json", "--measure")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["macs"] == 40_519_080_960


@pytest.mark.slow
def test_nas_search_runs_on_the_plugin_space_with_its_own_defaults(plugin_space, tmp_path):
    """No --target-gflops: the space states its proxy defaults; a budget keeps the run to seven tiny trainings."""
    done = nas(
        plugin_space,
        tmp_path,
        "search",
        "--space",
        PLUGIN_SPACE,
        "--data",
        TINY_DATA,
        "--epochs",
        "0.5",
        "--final-epochs",
        "0",
        "--budget",
        "7",
        "--threads",
        "1",
        "--storage",
        f"sqlite:///{tmp_path / 'nas.db'}",
        "--json",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["study"].startswith(f"{PLUGIN_SPACE}-coordinate-") and summary["trained"] == 7
    assert summary["stopped"] == "budget" and summary["path"][0]["role"] == "base"
    assert "target 0.06 GMACs" in done.stderr


def test_a_strategy_from_the_plugin_package_searches_a_built_in_space(plugin_space, tmp_path):
    """The hill-climbing strategy reaches ``nas search`` only through the installed ``nas.strategies`` entry point."""
    done = nas(
        plugin_space,
        tmp_path,
        "search",
        "--space",
        "x3d",
        "--strategy",
        PLUGIN_STRATEGY,
        "--data",
        TINY_DATA,
        "--space-option",
        "base_crop=16",
        "--space-option",
        "base_stride=16",
        "--space-option",
        "head_width=32",
        "--target-gflops",
        "0.0009",
        "--epochs",
        "0.5",
        "--final-epochs",
        "0",
        "--threads",
        "1",
        "--storage",
        f"sqlite:///{tmp_path / 'nas.db'}",
        "--json",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["study"].startswith(f"x3d-{PLUGIN_STRATEGY}-") and summary["stopped"] == "finished"
    assert summary["trained"] >= 2 and summary["chosen"] is not None
    without = subprocess.run(
        [sys.executable, "-m", "nas", "search", "--strategy", PLUGIN_STRATEGY, "--budget", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert without.returncode == 2 and f"unknown strategy {PLUGIN_STRATEGY!r}" in without.stderr  # not installed here
