"""Interrupts wait for a ledger write: noted inside ``deferred``, raised when the block ends."""

from __future__ import annotations

import signal

import pytest

from nas.interrupts import deferred, handle


def test_an_interrupt_inside_a_deferred_block_is_raised_at_its_end():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with deferred():
            with deferred():
                handle(signal.SIGTERM, None)
                done.append("inner")
            done.append("outer")  # still inside the outer block: not raised yet
    assert done == ["inner", "outer"]
    with deferred():
        pass  # nothing pending any more


def test_outside_a_block_it_is_raised_at_once():
    with pytest.raises(KeyboardInterrupt):
        handle(signal.SIGINT, None)
