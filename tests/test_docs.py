"""The documentation's promises: every Python block runs, the command-line reference is the parser's, links hold.

The site itself is built by ``mkdocs build --strict`` in CI (``.ci/run``), which fails on a broken link or a
missing API reference; these tests need only the ``[dev]`` install.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The first line of a block that needs long work; the docs show it, and the tests skip the block.
NOT_RUN = "# not run by the tests:"


def _pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _python_blocks() -> list[tuple[str, str]]:
    blocks = []
    for page in _pages():
        for number, code in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.S), 1):
            blocks.append((f"{page.relative_to(ROOT)}#{number}", code))
    return blocks


def test_the_docs_have_python_blocks_and_only_long_ones_are_skipped():
    blocks = _python_blocks()
    skipped = [name for name, code in blocks if code.startswith(NOT_RUN)]
    assert len(blocks) >= 6 and len(skipped) <= 2, (len(blocks), skipped)


@pytest.mark.slow
@pytest.mark.parametrize("name,code", _python_blocks(), ids=[name for name, _ in _python_blocks()])
def test_every_python_block_of_the_docs_runs(name, code, tmp_path):
    if code.startswith(NOT_RUN):
        pytest.skip(code.splitlines()[0])
    script = tmp_path / "block.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NAS_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert done.returncode == 0, f"{name} failed:\n{done.stderr[-3000:]}"
    assert done.stdout.strip(), f"{name} printed nothing"


def test_the_command_line_reference_lists_every_option_of_every_command():
    from nas.cli import build_parser, iter_commands
    from nas.cli_reference import render

    page = render()
    sections = {title: body for title, body in re.findall(r"^## `(nas[^`]*)`\n(.*?)(?=^## `|\Z)", page, re.S | re.M)}
    commands = list(iter_commands(build_parser()))
    assert len(commands) >= 15 and set(sections) == {" ".join(("nas", *path)) for path, _ in commands}
    for path, parser in commands:
        body = sections[" ".join(("nas", *path))]
        flags = {flag for action in parser._actions for flag in action.option_strings}
        positionals = {action.metavar or action.dest for action in parser._actions if not action.option_strings}
        listed = re.findall(r"^\| `([^`]*)`", body, re.M)
        assert len(listed) == len(parser._actions), (path, listed)
        missing = [
            f for f in flags | positionals if not any(re.search(rf"(^|[ ,]){re.escape(f)}\b", row) for row in listed)
        ]
        assert missing == [], (path, missing)


def test_the_reference_shows_the_help_text_and_ranges_argparse_prints():
    from nas.cli import build_parser, iter_commands
    from nas.cli_reference import render_command

    ((path, parser),) = [(p, leaf) for p, leaf in iter_commands(build_parser()) if p == ("search",)]
    section = render_command(path, parser)
    assert "[from 1 to 10,000,000]" in section and "stop after N trained models" in section
    assert " ".join(parser.format_usage().split()) in section


def test_the_readme_is_a_front_page_whose_links_hold():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 260
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme):
        if not re.match(r"[a-z]+://", target):
            assert (ROOT / target).exists(), f"README links to {target}, which does not exist"


def test_every_page_is_in_the_site_navigation():
    import yaml

    config = (ROOT / "mkdocs.yml").read_text()
    nav = yaml.safe_load(re.sub(r"!!python/\S+", "", config))["nav"]

    def pages(entries) -> set[str]:
        found = set()
        for entry in entries:
            for value in entry.values() if isinstance(entry, dict) else [entry]:
                found |= pages(value) if isinstance(value, list) else {value}
        return found

    listed = pages(nav)
    on_disk = {str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").glob("*.md")}
    results = {f"results/{p.name}" for p in (ROOT / "benchmarks" / "results").glob("*.md")}
    assert (on_disk | results | {"reference/cli.md", "reference/api.md"}) - listed == set()
