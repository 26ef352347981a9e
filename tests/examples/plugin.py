"""Installing the example plugin package for tests: a real ``pip install`` and a real entry point.

Each test process installs ``examples/plugin_space`` with pip into a folder of
its own (``--target``) from a private copy of the source, then puts that
folder on ``sys.path``.  Nothing is written into the test environment or the
source tree, so the two pytest-xdist workers never install over each other,
and a run leaves the environment as it found it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "examples" / "plugin_space"
#: The space the example registers under the ``nas.spaces`` entry point.
PLUGIN_SPACE = "r2plus1d"
#: The strategy it registers under the ``nas.strategies`` entry point.
PLUGIN_STRATEGY = "hill-climb"


def install_plugin(workdir: Path) -> Path:
    """``pip install`` the example into ``workdir/site`` (no dependencies: videonas is the one under test)."""
    source = workdir / "source"
    shutil.copytree(SOURCE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = workdir / "site"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(site),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pip could not install {SOURCE}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return site
