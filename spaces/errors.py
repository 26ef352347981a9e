"""Errors raised on bad user input.

Every package of the toolkit raises subclasses of :class:`NasError` for input a
user can fix (an unknown name, a value out of range, a malformed point).  The
command line prints such an error as one line and exits with status 2; any
other exception is a bug and keeps its traceback.  The hierarchy lives in
``spaces`` because it is the lowest layer: every other package imports it.
"""

from __future__ import annotations


class NasError(Exception):
    """Base of all errors caused by user input; the message says what to do."""


class SpaceError(NasError, ValueError):
    """A search space was given something it cannot accept."""


class UnknownNameError(SpaceError, LookupError):
    """A name (space, axis, preset, operation) that does not exist."""


class InvalidPointError(SpaceError):
    """A point, or one coordinate of it, is invalid for its space."""


class UnknownAxisError(UnknownNameError, InvalidPointError):
    """A point names an axis its space does not have."""


class ExpansionError(SpaceError):
    """An expansion or contraction that cannot be applied at this point."""


def unknown_name(
    kind: str,
    name: object,
    known: "list[str] | tuple[str, ...]",
    *,
    where: str = "",
    hint: str = "",
    error: type[UnknownNameError] = UnknownNameError,
) -> UnknownNameError:
    """Build the uniform 'unknown X' error that quotes the bad name and the valid ones."""
    choices = ", ".join(known) if known else "none"
    message = f"unknown {kind} {name!r}{' in ' + where if where else ''}; choose one of: {choices}"
    return error(f"{message}. {hint}" if hint else message)
