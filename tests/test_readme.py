"""The README's promises: CI runs its test command, its code example runs, and every command line the README and
the documentation pages show is one the parser accepts."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from spaces import load_exported
from tests.spaces.reuse import clean_env

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
#: The README and every page of the documentation site: the command lines they show are checked alike.
PAGES = "\n".join([README] + [page.read_text() for page in sorted((ROOT / "docs").glob("*.md"))])


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
    section = README.split("## Use a space in your project", 1)[1]
    return re.search(r"```python\n(.+?)\n```", section, re.S).group(1)


def _check_reuse_output(printed: list[str]) -> None:
    assert printed[0].startswith("frames=4,stride=12,crop=160") and printed[0].endswith(" 605256512 X3DNet")
    assert printed[1] == str(load_exported(ROOT / "docs" / "example_export.yaml").info["params"])


def test_the_use_in_your_project_example_runs(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)  # the example reads docs/example_export.yaml
    exec(compile(_reuse_example(), "README example", "exec"), {})
    _check_reuse_output(capsys.readouterr().out.splitlines())


@pytest.mark.slow
def test_the_use_in_your_project_example_runs_where_only_torch_is_installed(torch_only_python):
    """In isolated mode (-I): the installed package is imported, not this checkout,
    though the example runs from here."""
    done = subprocess.run(
        [str(torch_only_python), "-I", "-c", _reuse_example()],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    _check_reuse_output(done.stdout.splitlines())


def _command_lines() -> tuple[list[str], list[str]]:
    """README and docs lines that run ``nas`` in code blocks, and inline mentions (`nas ... --flag`)."""
    blocks = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", PAGES, re.S):
        for line in block.splitlines():
            found = re.search(r"(?:^|&& |\.venv/bin/)(nas .*)$", line.split("  #")[0].strip())
            if found:
                blocks.append(found.group(1))
    return blocks, re.findall(r"`(nas [^`]+)`", PAGES)


def _leaf(words: list[str]):
    from nas.cli import iter_commands

    leaves = {path: parser for path, parser in iter_commands()}
    for length in (2, 1):
        if tuple(words[:length]) in leaves:
            return tuple(words[:length]), leaves[tuple(words[:length])]
    return None, None


def test_every_flag_the_readme_names_exists_on_its_command():
    blocks, inline = _command_lines()
    unknown = []
    for line in blocks + inline:
        words = line.split()[1:]
        path, parser = _leaf(words)
        if parser is None:
            continue
        options = {o for action in parser._actions for o in action.option_strings}
        unknown += [(line, flag) for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", line) if flag not in options]
    assert unknown == [], unknown


def test_the_readme_command_lines_parse(monkeypatch):
    """Each complete command line (no placeholder such as DIR, [..] or a|b) is accepted by the parser."""
    import shlex

    from nas import values
    from nas.cli import build_parser

    monkeypatch.setattr(values.PathArgument, "__call__", lambda self, text: text)  # files named need not exist here
    blocks, _ = _command_lines()
    complete = [line for line in blocks if not re.search(r"[\[\]|…<>]|\.\.\.|\b[A-Z]{1,}\b", line)]
    assert len(complete) >= 10
    for line in complete:
        build_parser().parse_args(shlex.split(line)[1:])  # a bad line raises NasError naming it
