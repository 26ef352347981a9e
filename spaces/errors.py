"""Errors a user can act on: bad input (exit 2) and failures at run time (exit 1).

Every package of the toolkit raises subclasses of :class:`NasError` for input a
user can fix (an unknown name, a value out of range, a malformed point), and of
:class:`RunFailure` for what went wrong while running on good input (a storage
lost, a full disk, a cache found corrupt mid-run, a search that ends without a
model).  The command line prints either as one line and exits with the error's
``exit_code``, so a script can tell the two apart; any other exception is a bug
and keeps its traceback.  The hierarchy lives in ``spaces`` because it is the
lowest layer: every other package imports it.
"""

from __future__ import annotations


class NasError(Exception):
    """Base of all errors caused by user input; the message says what to do."""

    #: The command line's exit status for this error: 2, bad usage or input (argparse's convention).
    exit_code = 2


class RunFailure(NasError):
    """A failure at run time on good input: storage lost, disk full, a corrupt cache found mid-run, no model found."""

    exit_code = 1


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


class InheritanceError(SpaceError):
    """A parent's trained weights cannot become a candidate's by a function-preserving rule: train it from scratch."""


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
