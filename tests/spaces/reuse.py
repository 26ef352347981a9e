"""Helpers of the reuse tests: what a process imports, and a virtual environment that holds only torch.

The torch-only environment is made without downloading anything: a bare venv
whose site-packages links to the distributions of torch and its own
requirements (read from their installed metadata), nothing else.  The
project is then ``pip install --no-deps``-ed into it from a copy of the
source, exactly as another project would install it beside its own torch.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Source folders that an install needs (what pyproject's packages.find includes, and its metadata).
PROJECT_FILES = ("pyproject.toml", "README.md", "spaces", "nas", "estimators", "benchmarks")


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without anything that would add import paths (PYTHONPATH, user site-packages)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    return {**env, "PYTHONNOUSERSITE": "1", **extra}


def loaded_modules(python: str, code: str, cwd: Path) -> set[str]:
    """``sys.modules`` after running ``code`` in a fresh ``python`` (the code must not print)."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([python, "-c", script], cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise AssertionError(f"the reuse code failed:\n{done.stderr[-3000:]}")
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def _requirement_names(dist: Distribution) -> list[str]:
    """Names of a distribution's unconditional requirements whose markers hold here (extras left out)."""
    from packaging.requirements import Requirement

    names = []
    for text in dist.requires or []:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            names.append(requirement.name)
    return names


def requirement_closure(name: str) -> list[Distribution]:
    """The installed distribution ``name`` and everything it requires, transitively."""
    found: dict[str, Distribution] = {}
    todo = [name]
    while todo:
        key = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if key in found:
            continue
        try:
            found[key] = distribution(key)
        except PackageNotFoundError:
            continue  # an optional requirement not installed here: the environment must do without it too
        todo += _requirement_names(found[key])
    return list(found.values())


def _top_level_entries(dist: Distribution) -> set[str]:
    """The site-packages entries a distribution installed (packages, modules, its .dist-info, .pth files)."""
    entries = {Path(str(f)).parts[0] for f in dist.files or []}
    return {e for e in entries if e not in ("..", "__pycache__")}


def torch_only_venv(folder: Path) -> Path:
    """A venv at ``folder`` whose site-packages has torch and its requirements only; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    here = Path(sysconfig.get_paths()["purelib"])
    there = next((folder / "lib").glob("python*/site-packages"))
    for dist in requirement_closure("torch"):
        source = Path(str(dist.locate_file("")))
        for entry in _top_level_entries(dist):
            if (source / entry).exists() and not (there / entry).exists():
                (there / entry).symlink_to(source / entry)
    if not (there / "torch").exists():
        raise AssertionError(f"torch is not installed beside this test run ({here}); the reuse check needs it")
    return folder / "bin" / "python"


def install_project(python: Path, workdir: Path) -> None:
    """``pip install --no-deps`` this project into ``python``'s environment, from a copy of its source."""
    source = workdir / "videonas-source"
    source.mkdir()
    for name in PROJECT_FILES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "data"))
        else:
            shutil.copy2(path, source / name)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            str(source),
        ],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise AssertionError(f"pip could not install the project:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
