"""Every number and path the command line takes, parsed in one place: numbers with their ranges, paths checked.

Each option's type is a :class:`Whole` or :class:`Real` with its limits, so
NaN, infinity, a negative seed or a frame rate of 1e9 are refused by the
parser (one line naming the option, the value and the range) before any
command starts work, and ``--help`` states every range (see
:class:`RangeHelpFormatter`).
"""

from __future__ import annotations

import argparse
import math
import re
from dataclasses import dataclass
from typing import Any


class BadValue(argparse.ArgumentTypeError):
    """A value out of its range or malformed: argparse shows its message as the option's error; the Python API
    (:class:`nas.config.SearchConfig`) turns it into a :class:`~spaces.errors.NasError` naming the parameter."""


#: Seeds are handed to numpy and torch, which take unsigned 32-bit values.
MAX_SEED = 2**32 - 1
#: Limits that no run on any machine needs to pass, but that keep a typo from allocating terabytes or looping forever.
MAX_EPOCHS = 10_000.0
MAX_THREADS = 1024
MAX_SECONDS = 30 * 24 * 3600.0  # a month
MAX_GFLOPS = 1e6
MAX_COUNT = 10_000_000


@dataclass(frozen=True)
class Whole:
    """A whole number from ``low`` to ``high`` (both included)."""

    low: int
    high: int

    def __call__(self, text: str) -> int:
        try:
            value = int(str(text).strip())
        except ValueError:
            raise BadValue(f"{text!r} is not a whole number; give one {self.describe()}") from None
        if not self.low <= value <= self.high:
            raise BadValue(f"{value} is out of range; give a whole number {self.describe()}")
        return value

    def describe(self) -> str:
        return f"from {self.low:,} to {self.high:,}"

    __name__ = "whole number"  # argparse names the type in some messages


@dataclass(frozen=True)
class Real:
    """A finite number from ``low`` to ``high``; ``low_open`` excludes ``low`` itself (a positive amount)."""

    low: float
    high: float
    low_open: bool = False

    def __call__(self, text: str) -> float:
        try:
            value = float(str(text).strip())
        except ValueError:
            raise BadValue(f"{text!r} is not a number; give one {self.describe()}") from None
        if not math.isfinite(value) or value > self.high or value < self.low or (self.low_open and value == self.low):
            raise BadValue(f"{text.strip()} is out of range; give a number {self.describe()}")
        return value

    def describe(self) -> str:
        bound = f"above {self.low:g}" if self.low_open else f"from {self.low:g}"
        return f"{bound} to {self.high:g}"

    __name__ = "number"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class Duration:
    """A positive duration: seconds, or a number with s, m or h (900, 90s, 15m, 2h), at most ``high`` seconds."""

    high: float = MAX_SECONDS

    def __call__(self, text: str) -> float:
        match = _DURATION.match(str(text))
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)] if match else math.nan
        if not (0 < seconds <= self.high):
            raise BadValue(f"{text!r} is not a duration {self.describe()}; write e.g. 900, 90s, 15m or 2h")
        return seconds

    def describe(self) -> str:
        return f"above 0 up to {self.high / 3600:g} h"

    __name__ = "duration"


SEED = Whole(0, MAX_SEED)
THREADS = Whole(1, MAX_THREADS)
EPOCHS = Real(0, MAX_EPOCHS, low_open=True)
GFLOPS = Real(0, MAX_GFLOPS, low_open=True)
COUNT = Whole(1, MAX_COUNT)


@dataclass(frozen=True)
class CountOrAll:
    """A whole number from 1, or ``all`` (returned as None): how many of something, or every one there is."""

    def __call__(self, text: str) -> int | None:
        if str(text).strip().lower() == "all":
            return None
        try:
            value = int(str(text).strip())
        except ValueError:
            raise BadValue(f"{text!r} is neither a whole number nor 'all'; give one {self.describe()}") from None
        if not 1 <= value <= MAX_COUNT:
            raise BadValue(f"{value} is out of range; give a whole number {self.describe()}")
        return value

    def describe(self) -> str:
        return f"from 1 to {MAX_COUNT:,}, or all"

    __name__ = "whole number or all"


COUNT_OR_ALL = CountOrAll()
SECONDS = Real(0, MAX_SECONDS)
LATENCY_MS = Real(0, 1e7, low_open=True)


def parse_duration(text: str | float | None, option: str = "--time-limit") -> float | None:
    """A duration given outside argparse (a stored config, a benchmark's flag); one NasError line if bad.

    A number argparse already parsed (``type=Duration()``) passes through.
    """
    from spaces.errors import NasError

    if text is None:
        return None
    if isinstance(text, (int, float)):
        text = str(text)
    try:
        return Duration()(text)
    except BadValue as error:
        raise NasError(f"{option} {error}") from None


@dataclass(frozen=True)
class PathArgument:
    """An argparse type: a path checked by :mod:`estimators.files` (``kind``: output_file, output_folder,
    input_file or input_folder) when the command line is parsed, before any work or any write."""

    kind: str
    example: str = "file"
    missing: str = ""  # for inputs: how to make one, with {path}

    def __call__(self, text: str) -> str:
        from estimators import files
        from spaces.errors import NasError

        extra = {"missing": self.missing} if self.missing else {}
        try:
            getattr(files, self.kind)(text, option="", example=self.example, **extra)
        except NasError as error:
            raise BadValue(str(error)) from None
        return text


def output_file(example: str = "result.json") -> PathArgument:
    return PathArgument("output_file", example)


def output_folder(example: str = "results") -> PathArgument:
    return PathArgument("output_folder", example)


def input_file(example: str = "file", missing: str = "") -> PathArgument:
    return PathArgument("input_file", example, missing)


def input_folder(example: str = "folder", missing: str = "") -> PathArgument:
    return PathArgument("input_folder", example, missing)


#: How to make a clip cache that is missing (``--data``, ``nas data inspect``).
MAKE_CACHE = "build one with 'nas data synth --out {path}' or 'nas data build --videos DIR --out {path}'"


#: A name ``nas search --study`` may create: it goes into file names (reports) and URLs, so no slash, space or control.
_NEW_STUDY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=:@-]{0,127}$")
#: Optuna's in-memory SQLite: a search there is lost when the process ends, so "re-run to go on" would be a lie.
_IN_MEMORY = re.compile(r"^sqlite(\+\w+)?://(/(:memory:)?)?$")


def text(what: str, example: str):
    """An argparse type: any text but an empty one (an empty value would silently mean the default)."""

    def parse(value: str) -> str:
        if not value.strip() or "\x00" in value:
            raise BadValue(
                f"{value!r} is empty or holds a NUL; give {what}, e.g. {example}, "
                "or leave the option out for the default"
            )
        return value

    return parse


def storage(value: str) -> str:
    """An argparse type for ``--storage``: not empty, and not an in-memory database that a re-run could not resume."""
    text("a storage URL or file", "sqlite:///nas.db")(value)
    if _IN_MEMORY.match(value.strip()):
        raise BadValue(
            f"{value!r} is an in-memory database: everything would be lost when the command "
            "ends; give a file, e.g. sqlite:///nas.db"
        )
    return value


def new_study(value: str) -> str:
    """An argparse type for a study ``nas search`` creates: a name safe in file names and URLs."""
    if not _NEW_STUDY.match(value):
        raise BadValue(
            f"{value[:60]!r}{'...' if len(value) > 60 else ''} is not a study name this "
            "command creates: use 1 to 128 letters, digits and . _ + = : @ -, starting "
            "with a letter or digit"
        )
    return value


STUDY = text("a study name", "x3d-coordinate")
DATA = text("a clip cache folder or synth[:key=value,...]", "synth")


def parse_options(items: list[str], option: str = "--space-option") -> dict[str, Any]:
    """KEY=VALUE items (values read as YAML); ``option`` names the flag they came from in every message."""
    import yaml

    from spaces.errors import NasError

    options: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise NasError(f"{option} {item!r} is not KEY=VALUE")
        if key in options:
            raise NasError(f"{option}: {key!r} is given twice; give each setting once")
        try:
            options[key] = yaml.safe_load(value)
        except yaml.YAMLError as error:
            problem = getattr(error, "problem", None) or "not a YAML value"
            raise NasError(
                f"{option} {item!r}: the value is not valid YAML ({problem}); quote it or write e.g. "
                f"{key}=64 or {key}=[1,2,5,3]"
            ) from None
    return options


class RangeHelpFormatter(argparse.HelpFormatter):
    """Help that states each number's range, from the option's type, so help and parser cannot disagree.

    ``_get_help_string`` is argparse's documented hook for this (``ArgumentDefaultsHelpFormatter``
    overrides the same method); it is the only argparse internal this package relies on.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = super()._get_help_string(action) or ""
        describe = getattr(action.type, "describe", None)
        if describe is None:
            return text
        return f"{text} [{describe()}]".strip()
