"""The README's promises: CI runs its test command, and its code example runs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from spaces import load_exported
from tests.spaces.reuse import clean_env

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _setup_commands() -> list[str]:
    section = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_exactly_two_setup_commands_one_runs_the_main_job_one_the_tests():
    commands = _setup_commands()
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    main_job, tests = commands
    assert "torch==2.13.0" in main_job and "nas " in main_job
    assert "torch==2.13.0" in tests and "pytest" in tests


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text()
    assert _setup_commands()[1] in ci.splitlines()


def _reuse_example() -> str:
    section = README.split("## Use the space in your project", 1)[1]
    return re.search(r"```python\n(.+?)\n```", section, re.S).group(1)


def _check_reuse_output(printed: list[str]) -> None:
    assert printed[0].startswith("frames=4,stride=12,crop=160") and "605256512" in printed[0]
    assert printed[1].startswith("frames=8,stride=6")
    assert printed[2] == f"X3DNet {load_exported(ROOT / 'docs' / 'example_export.yaml').info['params']}"


def test_the_use_in_your_project_example_runs(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)  # the example reads docs/example_export.yaml
    exec(compile(_reuse_example(), "README example", "exec"), {})
    _check_reuse_output(capsys.readouterr().out.splitlines())


@pytest.mark.slow
def test_the_use_in_your_project_example_runs_where_only_torch_is_installed(torch_only_python):
    """In isolated mode (-I): the installed package is imported, not this checkout, though the example runs from here."""
    done = subprocess.run([str(torch_only_python), "-I", "-c", _reuse_example()], cwd=ROOT, env=clean_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    _check_reuse_output(done.stdout.splitlines())
