"""Logging: the library logs, the command line decides what is shown.

Every module logs to a logger under ``nas``, ``estimators`` or ``spaces``
(``logging.getLogger(__name__)``).  A program that imports the toolkit sees
only warnings until it configures logging itself (Python's default); the
``nas`` command shows information lines on stderr, warnings only with
``--quiet`` and debugging detail with ``--verbose``.  Lines are written
through tqdm, so they never break a progress bar drawn on a terminal.
"""

from __future__ import annotations

import logging
import sys

#: The toolkit's top-level loggers.
LOGGERS = ("nas", "estimators", "spaces")


class _BarSafeHandler(logging.StreamHandler):
    """Writes each record above any progress bar on the stream (tqdm.write), then redraws the bar."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=self.stream)
            self.flush()
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


def configure(level: int = logging.INFO):
    """Show the toolkit's log records of ``level`` and above on stderr, one plain line each.

    Returns a function that puts the loggers back as they were: ``nas.cli.main`` is also called from Python
    (tests, notebooks), and must not leave its handlers behind.
    """
    handler = _BarSafeHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    saved = []
    for name in LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, logger.propagate))
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False

    def restore() -> None:
        for logger, old_level, old_propagate in saved:
            logger.removeHandler(handler)
            logger.setLevel(old_level)
            logger.propagate = old_propagate

    return restore


def level_of(quiet: bool, verbose: bool) -> int:
    return logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
