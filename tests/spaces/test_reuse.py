"""Reusing a space in another project: presets and exported points build with torch and the standard library only."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from spaces import get_space
from spaces.exported import format_exported
from tests.spaces.reuse import loaded_modules

#: The toolkit's own dependencies: none may be imported to build a model (unless a bare ``import torch`` does).
SEARCH_ONLY = {
    "optuna",
    "nni",
    "numpy",
    "yaml",
    "lmdb",
    "h5py",
    "sklearn",
    "av",
    "PIL",
    "matplotlib",
    "psycopg2",
    "thop",
    "tqdm",
    "estimators",
    "nas",
    "benchmarks",
}
REUSE = """
from spaces import build_exported, get_space
space = get_space("x3d")
preset = space.build(space.preset("XS"), num_classes=10)
assert sum(p.numel() for p in preset.parameters()) == space.complexity(space.preset("XS"), 10).params
exported = build_exported({path!r})
assert sum(p.numel() for p in exported.parameters()) == {params}
"""


def write_export(folder: Path) -> tuple[Path, int]:
    """An export of a proxy-setting point, written by the writer ``nas export`` uses; and its parameter count."""
    space = get_space("x3d", base_crop=48, base_stride=8, stage_blocks=[1, 1, 2, 1], head_width=256, num_classes=12)
    point = space.parse_point("frames=4,stride=8,crop=56,width=1.4142")
    path = folder / "best.yaml"
    path.write_text(
        format_exported(
            {
                "space": space.name,
                "space_version": space.version,
                "settings": space.settings(),
                "point": point.as_dict(),
            }
        )
    )
    return path, space.complexity(point).params


def not_allowed(modules: set[str], torch_modules: set[str]) -> list[str]:
    """Modules neither a bare ``import torch`` loads, nor the standard library's, nor ``spaces``'."""
    return sorted(
        m
        for m in modules - torch_modules
        if m.split(".")[0] not in sys.stdlib_module_names and m.split(".")[0] != "spaces"
    )


def test_building_presets_and_exports_imports_nothing_but_torch_and_the_standard_library(tmp_path):
    path, params = write_export(tmp_path)
    torch_modules = loaded_modules(sys.executable, "import torch", tmp_path)
    modules = loaded_modules(sys.executable, REUSE.format(path=str(path), params=params), tmp_path)
    assert "spaces.x3d.modules" in modules  # the models were built
    assert not_allowed(modules, torch_modules) == []
    assert sorted(SEARCH_ONLY & (modules - torch_modules)) == []


@pytest.mark.slow
def test_a_venv_with_only_torch_builds_presets_and_exports(torch_only_python, tmp_path):
    path, params = write_export(tmp_path)
    python = str(torch_only_python)
    installed = loaded_modules(
        python,
        "import importlib.util as u\nmissing = [m for m in "
        f"{sorted(SEARCH_ONLY - {'estimators', 'nas', 'benchmarks'})!r} if u.find_spec(m)]\n"
        "assert not missing, missing",
        tmp_path,
    )
    assert "torch" not in installed  # the probe itself imported nothing heavy
    torch_modules = loaded_modules(python, "import torch", tmp_path)
    modules = loaded_modules(python, REUSE.format(path=str(path), params=params), tmp_path)
    assert "spaces.x3d.modules" in modules and not_allowed(modules, torch_modules) == []
