"""What every fault case needs: the ``nas`` command in a child process, its verdict, a disk that fills up."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

#: A search that trains for real in seconds (14 tiny trainings on a 4-class synthetic cache).
TINY_DATA = "synth:classes=4,clips_per_class=6,frames=16,size=32,seed=3,val_fraction=0.15,test_fraction=0.15"
TINY_SEARCH = [
    "search",
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
    "1",
    "--tie-rule",
    "best",
    "--threads",
    "1",
]


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("nas: error:")]


class Nas:
    """Runs ``python -m nas ...`` in ``folder`` (its default ledger and synthetic cache live there)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = {**os.environ, "NAS_CACHE_DIR": str(folder / "nas-cache"), "OMP_NUM_THREADS": "1"}

    def command(self, *args: object) -> list[str]:
        return [sys.executable, "-m", "nas", *map(str, args)]

    def __call__(self, *args: object, timeout: float = 300) -> Outcome:
        done = subprocess.run(
            self.command(*args), cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        return Outcome(done.returncode, done.stdout, done.stderr)

    def start(self, *args: object) -> subprocess.Popen:
        return subprocess.Popen(
            self.command(*args),
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def assert_one_line_failure(outcome: Outcome, *fragments: str, code: int) -> str:
    """Exit status ``code`` (2 bad input, 1 a run-time failure), no traceback, exactly one ``nas: error:`` line
    (the last one) naming ``fragments``."""
    assert outcome.code == code, f"exit {outcome.code}, not {code}:\n{outcome.out[-1500:]}\n{outcome.err[-1500:]}"
    assert "Traceback" not in outcome.err and "Traceback" not in outcome.out, outcome.err[-3000:]
    lines = outcome.error_lines
    assert len(lines) == 1, outcome.err[-3000:]
    assert outcome.err.strip().splitlines()[-1] == lines[0], "the error is not the last word"
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def listing(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes (to show nothing was written, or nothing changed)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def nas(tmp_path) -> Nas:
    return Nas(tmp_path)


class SmallDisk:
    """A size-limited tmpfs: what a full disk looks like to the code writing on it."""

    def __init__(self, mount: Path) -> None:
        self.path = mount
        self.filler = mount / "filler"

    def fill(self) -> None:
        """Take every free byte (writes until the disk says it is full)."""
        with open(self.filler, "ab", buffering=0) as handle:
            try:
                while True:
                    handle.write(b"\0" * 4096)
            except OSError:
                pass

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def resize(self, size: str) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(self.path)], check=True, capture_output=True)


@contextmanager
def tmpfs(mount: Path, options: str):
    """A tmpfs mounted at ``mount`` for the test (needs root, as CI and this machine run; skipped elsewhere)."""
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)], capture_output=True, text=True)
    if made.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs ({options}): {made.stderr.strip()}")
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs: what a full disk looks like."""
    with tmpfs(tmp_path / "disk", "size=1m") as mount:
        yield SmallDisk(mount)


@pytest.fixture
def read_only(tmp_path):
    """A read-only tmpfs: what root meets on a read-only mount, where os.access still says 'writable'."""
    with tmpfs(tmp_path / "ro", "ro,size=1m") as mount:
        yield mount
