"""Ctrl-C and SIGTERM that wait for a ledger write to finish.

A signal may be delivered to any thread of the process (torch keeps a pool
of them), so masking it in the main thread is not enough; instead the
handler itself defers: inside :func:`deferred` it only notes the request,
and the request is raised as ``KeyboardInterrupt`` when the block ends.  The
``nas`` command line installs :func:`handle` for SIGINT and SIGTERM.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

_state = {"depth": 0, "pending": False}


def handle(signum: int, frame: object) -> None:
    """The signal handler: raise now, or later if a deferred block is running."""
    if _state["depth"]:
        _state["pending"] = True
        return
    raise KeyboardInterrupt


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Run the block whole; an interrupt that came meanwhile is raised when it ends."""
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
        if not _state["depth"] and _state["pending"]:
            _state["pending"] = False
            raise KeyboardInterrupt
