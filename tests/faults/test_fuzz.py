"""Hostile values for every option of every subcommand: one line, a non-zero exit, nothing written.

The cases are generated from the parser itself (:func:`nas.cli.iter_commands`),
so a new option is fuzzed as soon as it exists.  Each subcommand runs with
base arguments that make it fail after parsing but before any real work (a
cache, a ledger or a table that does not exist, two settings out of range), so
a hostile value that the parser lets through still reaches the command's own
checks.  A value may be accepted (exit 0: a file name in Unicode is a fine
file name); a refusal must be exactly one ``nas: error:`` line with no
traceback, and leave the working folder as it was.  Runs in-process: about
3,000 cases in well under a minute.
"""

from __future__ import annotations

import io
import os
import signal
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from nas.cli import iter_commands, main

from .conftest import listing

#: Per subcommand: arguments that make it fail fast after parsing (nothing here exists or is in range).
BASE: dict[str, list[str]] = {
    "search": ["--data", "nowhere-cache", "--space-option", "colour=3", "--storage", "fz.db"],
    "worker": ["--storage", "nowhere.db", "--study", "s", "--wait", "0"],
    "report": ["--storage", "nowhere.db", "--study", "s"],
    "export": ["--storage", "nowhere.db", "--study", "s", "--out", "x.yaml"],
    "bench build": ["--out", "t.h5", "--data", "nowhere-cache", "--target-gflops", "100000"],
    "bench info": ["nowhere.h5"],
    "bench compare": ["--table", "nowhere.h5", "--strategies", "nope"],
    "bench fidelity": ["--table", "nowhere.h5", "--out", "long.h5", "--epochs", "2"],
    "space list": [],
    "space show": ["x3d"],
    "space export": ["x3d", "--format", "json"],
    "flops": ["--space", "x3d"],
    "data build": ["--videos", "empty-folder", "--out", "cache", "--classes", "1"],
    "data synth": ["--out", "cache", "--images", "--frames", "16", "--kind", "scenes"],
    "data inspect": ["nowhere-cache"],
}

#: Hostile values; {dir}, {fifo}, {link} and {file} are made in the working folder.
VALUES = [
    "",
    " ",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "-1",
    "-0",
    "1e30",
    "1e309",
    "0",
    "0.5",
    "99999999999999999999",
    "ünïcødé",
    "../escape-fuzz",
    "a/b\nc",
    "x" * 300,
    "/dev/null",
    "/dev/full",
    "{dir}",
    "{fifo}",
    "{link}",
    "{file}",
    "synth:",
    "sqlite://",
    "KEY=",
    "=1",
    "a=b=c",
]


def _cases() -> list[tuple[str, str | None, str]]:
    cases = []
    for path, parser in iter_commands():
        name = " ".join(path)
        assert name in BASE, f"new subcommand {name!r}: give it base arguments in BASE"
        for action in parser._actions:
            if action.nargs == 0 or action.dest == "help":
                continue
            option = action.option_strings[0] if action.option_strings else None
            cases += [(name, option, value) for value in VALUES]
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "empty-folder").mkdir()
    (root / "dir").mkdir()
    os.mkfifo(root / "fifo")
    (root / "file").write_bytes(bytes(range(256)))
    (root / "link").symlink_to(root / "file")
    return root


def _argv(name: str, option: str | None, value: str, folder: Path) -> list[str]:
    value = value.format(dir=folder / "dir", fifo=folder / "fifo", link=folder / "link", file=folder / "file")
    base = list(BASE[name])
    if option is None:  # a positional: the base's first argument is it
        return [*name.split(), value, *base[1:]]
    if option in base:  # the fuzzed value replaces the base's, so the command itself reads it
        at = base.index(option)
        del base[at : at + 2]
    # First, so the parser reads it before any base argument it refuses; --opt=value keeps "-1" a value.
    return [*name.split(), f"{option}={value}", *base]


class Hung(BaseException):
    """Not an OSError (as TimeoutError is), so no handler can turn a hang into an error line."""


def _timeout(*_) -> None:
    raise Hung("the command hung (a FIFO opened, or a wait with no end)")


def test_every_option_refuses_hostile_values_in_one_line(folder, monkeypatch):
    monkeypatch.chdir(folder)
    monkeypatch.setenv("NAS_CACHE_DIR", str(folder / "nas-cache"))
    monkeypatch.setenv("HOME", str(folder / "home"))
    previous = signal.signal(signal.SIGALRM, _timeout)
    refused = accepted = 0
    try:
        for name, option, value in CASES:
            argv = _argv(name, option, value, folder)
            before = listing(folder)  # an accepted case before may have written (a Unicode --out is a fine name)
            err = io.StringIO()
            signal.alarm(10)
            try:
                with redirect_stdout(io.StringIO()), redirect_stderr(err):
                    code = main(argv)  # an exception here is a traceback on the command line
            except Hung:
                pytest.fail(f"{argv} hung")
            signal.alarm(0)
            if code == 0:
                accepted += 1
                continue
            refused += 1
            lines = err.getvalue().strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("nas: error:"), (argv, err.getvalue())
            assert listing(folder) == before, (argv, "a refused command wrote", set(listing(folder)) - set(before))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert refused > 0.9 * len(CASES), (refused, accepted)
    print(f"{len(CASES)} cases: {refused} refused in one line, {accepted} accepted")
