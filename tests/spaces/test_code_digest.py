"""The code digest in every fingerprint changes when code that decides a result changes, and only then."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from spaces import get_space
from spaces.code_digest import RESULT_MODULES, code_digest, digest_of, module_files

ROOT = Path(__file__).resolve().parents[2]
PRINT_DIGESTS = (
    "from spaces import get_space; from spaces.code_digest import code_digest; "
    "print(code_digest(), get_space('x3d').code_digest(), get_space('x2d-image').code_digest())"
)


def _digests_of_copy(root: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PRINT_DIGESTS],
        cwd=root,
        env={"PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


def _copy(tmp_path: Path) -> Path:
    for package in ("spaces", "estimators"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_the_same_code_elsewhere_has_the_same_digest(tmp_path):
    here = [code_digest(), get_space("x3d").code_digest(), get_space("x2d-image").code_digest()]
    assert _digests_of_copy(_copy(tmp_path)) == here


def test_a_changed_training_loop_or_builder_changes_the_digests(tmp_path):
    root = _copy(tmp_path)
    before = _digests_of_copy(root)
    with open(root / "estimators" / "training.py", "a") as source:
        source.write("\nSTEP_SIZE_CHANGED = True\n")
    after_training = _digests_of_copy(root)
    assert after_training[0] != before[0] and after_training[1:] == before[1:]
    with open(root / "spaces" / "x3d" / "blocks.py", "a") as source:
        source.write("\nBLOCKS_CHANGED = True\n")
    after_blocks = _digests_of_copy(root)
    assert after_blocks[1] != after_training[1], "an X3D builder change must start new studies"
    assert after_blocks[2] != after_training[2], "x2d-image builds from the X3D blocks too"


def test_code_that_decides_no_result_keeps_studies_resumable(tmp_path):
    root = _copy(tmp_path)
    before = _digests_of_copy(root)
    with open(root / "estimators" / "predictor.py", "a") as source:
        source.write("\n# a predictor change: no proxy training measures anything else\n")
    assert _digests_of_copy(root) == before


def test_every_listed_module_exists():
    names = [name for name, _ in module_files(RESULT_MODULES)]
    assert names == list(RESULT_MODULES)
    assert len(digest_of(module_files(RESULT_MODULES))) == 16
