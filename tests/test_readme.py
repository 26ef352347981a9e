"""The README's promises: CI runs its test command, and its code example runs."""

from __future__ import annotations

import re
from pathlib import Path

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


def test_the_use_in_your_project_example_runs(capsys):
    section = README.split("## Use the space in your project", 1)[1]
    example = re.search(r"```python\n(.+?)\n```", section, re.S).group(1)
    exec(compile(example, "README example", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("frames=4,stride=12,crop=160") and "605256512" in printed[0]
    assert printed[1].startswith("frames=8,stride=6")
