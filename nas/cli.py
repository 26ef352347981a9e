"""The ``nas`` command line: parsing, dispatch, and one-line errors.

Exit status: 0 done; 2 bad usage or input (an unknown name, a value out of
range, a malformed point: a :class:`~spaces.errors.NasError`); 1 a failure at
run time on good input (storage lost, disk full, a corrupt cache found
mid-run, a search that ends without a model: a
:class:`~spaces.errors.RunFailure`); 130 interrupted.  Each error is one
``nas: error: ...`` line with no traceback.  Subcommands live in :mod:`nas.commands`,
each registering its own arguments, so adding one edits one place.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from spaces._version import __version__
from spaces.errors import NasError

from .commands import bench, data, export, flops, report, search, space, worker
from .logs import configure as configure_logging
from .logs import level_of
from .values import RangeHelpFormatter

#: Exit status for bad input (argparse's own convention); run-time failures exit 1 (``RunFailure.exit_code``).
EXIT_USAGE = 2
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130


class _OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line naming the command and how to get help.

    Its help states every number's range, read from the option's type (:mod:`nas.values`).
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", RangeHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise NasError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="nas",
        description="Neural-architecture search for efficient video models (X3D expansion and baselines).",
    )
    parser.add_argument("--version", action="version", version=f"nas {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_OneLineParser)
    commands.required = True
    for module in (search, worker, report, export, bench, space, flops, data):
        module.register(commands)
    for _, leaf in iter_commands(parser):
        leaf.add_argument("-q", "--quiet", action="store_true", help="show warnings and errors only, no progress")
        leaf.add_argument("-v", "--verbose", action="store_true", help="also show debugging detail")
    return parser


def iter_commands(parser: argparse.ArgumentParser | None = None, prefix: tuple[str, ...] = ()):
    """Every leaf command as ``(("data", "synth"), its parser)``: for generated references and the fuzzing tests.

    argparse has no public way to list subcommands; this reads ``_actions`` and
    ``_SubParsersAction.choices``, the one place this package does so (tests/nas/test_cli.py fails if they change).
    """
    parser = parser or build_parser()
    subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subcommands:
        yield prefix, parser
        return
    for name, child in subcommands[0].choices.items():
        yield from iter_commands(child, (*prefix, name))


@dataclass(frozen=True)
class OptionHelp:
    """One argument of a command as its ``--help`` shows it: for the generated command-line reference."""

    flags: tuple[str, ...]
    invocation: str
    help: str
    required: bool


def options_of(parser: argparse.ArgumentParser) -> list[OptionHelp]:
    """Every argument of ``parser`` with the help text ``--help`` prints (ranges and defaults expanded).

    Reads ``_actions`` and the formatter's ``_format_action_invocation`` and ``_expand_help``: private, kept here
    with :func:`iter_commands` (tests/nas/test_cli_reference.py fails if they change).
    """
    formatter = parser._get_formatter()
    found = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS:
            continue
        text = formatter._expand_help(action) if action.help else ""
        found.append(
            OptionHelp(
                tuple(action.option_strings) or (action.dest,),
                formatter._format_action_invocation(action),
                " ".join(text.split()),
                bool(action.required or not action.option_strings),
            )
        )
    return found


def one_line(message: str) -> str:
    """``message`` with control characters (a newline in a value the user gave) escaped: an error stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def caused_by_interrupt(error: BaseException) -> bool:
    """True if a KeyboardInterrupt is the cause (or context) of ``error``, at any depth."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status instead of raising."""
    import signal

    from .interrupts import handle

    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.getsignal(s) for s in signals} if threading_main() else {}
    for number in previous:
        signal.signal(number, handle)  # a polite kill is a Ctrl-C; both wait for a ledger write in progress
    restore_logging = None
    try:
        args = build_parser().parse_args(argv)
        restore_logging = configure_logging(level_of(args.quiet, args.verbose))
        return int(args.handler(args) or 0)
    except NasError as error:
        print(f"nas: error: {one_line(str(error))}", file=sys.stderr)
        return getattr(error, "exit_code", EXIT_USAGE)
    except KeyboardInterrupt:
        print("nas: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `nas ... | head`
        return 0
    except Exception as error:
        if not caused_by_interrupt(error):
            raise
        print(
            "nas: interrupted", file=sys.stderr
        )  # a Ctrl-C inside an import, wrapped by Python (e.g. in __set_name__)
        return EXIT_INTERRUPTED
    finally:
        if restore_logging is not None:
            restore_logging()
        for number, handler in previous.items():
            signal.signal(number, handler)  # main() called from Python code leaves the caller's handlers


def entry() -> None:
    """The ``nas`` console script and ``python -m nas``: run, then exit with the status.

    After a Ctrl-C every ledger and cache write has been committed or rolled
    back inside :func:`main`; the process then ends at once, so that nothing
    in the interpreter's shutdown (threads of half-imported libraries) can
    turn exit status 130 into a death by SIGINT.
    """
    import os

    status = main()
    if status == EXIT_INTERRUPTED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)
