"""Inherited weights in a live search: a candidate starts from its parent's trained weights (``--inherit``).

The coordinate strategy names each candidate's ``parent`` (the step's current
model).  Here, before the candidate trains, the parent's trial is looked up in
the ledger, its checkpoint read from the store (digest checked) and handed to
the estimator, which grows it into the candidate by the space's rules
(:meth:`spaces.SearchSpace.grow_weights`); after training, the candidate's own
weights are stored and referenced from its trial, for the next step.

What each trial records: ``parent`` (the point), ``parent_trial`` (its number),
``transfer`` (the space's rule for the operation: copy, widen, deepen), and
``inherited`` (whether it did start from them) with ``inherit_note`` saying
why not: the base, an operation the space has no rule for (reported per
operation), a contraction that narrows (no function-preserving rule), or a
checkpoint that could not be read.  A missing or corrupt checkpoint fails the
trial for retry, without using the budget (the trial is marked
``checkpoint_failure``); after :data:`CHECKPOINT_RETRIES` such failures of the
same run the candidate trains from scratch, so one lost file never stops the
search.  Weights that cannot be written (a full disk) fail the trial for retry
once; a second time the search stops with the reason.

The parent's trial is complete before any of its candidates is proposed, and
its checkpoint is referenced only by its completion, so a candidate never
starts from a parent whose training did not finish.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from estimators.base import Measurement
from estimators.proxy import CandidateFailed
from spaces import Point, SearchSpace
from spaces.errors import NasError

from .checkpoints import CheckpointStore, CheckpointUnavailable, CheckpointUnwritable
from .loop import Evaluate
from .strategies.base import COMPLETE, FAILED, TrialRecord, repeat_of

#: Failed tries of a candidate whose parent's checkpoint cannot be read before it trains from scratch instead.
CHECKPOINT_RETRIES = 1


def parent_record(runs: list[TrialRecord], parent_key: str) -> TrialRecord | None:
    """The parent's first complete run (its first seed's weights are the ones every candidate starts from)."""
    complete = [r for r in runs if r.point.key == parent_key and r.state == COMPLETE]
    return min(complete, key=repeat_of, default=None)


def checkpoint_failures(runs: list[TrialRecord], point: Point, repeat: int) -> int:
    """Earlier tries of this run that failed because a checkpoint could not be read or written."""
    return sum(
        1
        for r in runs
        if r.point == point and repeat_of(r) == repeat and r.state == FAILED and r.attrs.get("checkpoint_failure")
    )


def starting_weights(
    space: SearchSpace,
    point: Point,
    repeat: int,
    attrs: Mapping[str, Any],
    runs: list[TrialRecord],
    store: CheckpointStore,
) -> tuple[tuple[Point, Any] | None, dict[str, Any]]:
    """(the parent point and its trained state, or None to train from scratch; what to record about it)."""
    parent_key, operation = attrs.get("parent"), attrs.get("operation")
    if parent_key is None:
        return None, {"inherited": False, "inherit_note": "trained from scratch: no parent (the search's base)"}
    parent = parent_record(runs, parent_key)
    if parent is None:
        raise NasError(f"the parent {parent_key} of a candidate has no complete trial; this is a bug in the strategy")
    rule = space.weight_transfer.get(operation) if operation else None
    notes = {"parent_trial": parent.attrs.get("number"), "transfer": rule}
    if rule is None:
        return None, {
            **notes,
            "inherited": False,
            "inherit_note": f"trained from scratch: space {space.name!r} has no weight-transfer rule for "
            f"operation {operation!r}",
        }
    try:
        state = store.load(parent.attrs.get("checkpoint"))
    except CheckpointUnavailable as error:
        if checkpoint_failures(runs, point, repeat) < CHECKPOINT_RETRIES:
            raise CandidateFailed(
                f"{error}; the candidate will be tried again",
                trained=False,
                retry=True,
                attrs={"checkpoint_failure": True},
            ) from None
        return None, {**notes, "inherited": False, "inherit_note": f"trained from scratch: {error}"}
    return (parent.point, state), notes


def transfer_summary(space: SearchSpace) -> str:
    """One line for the start of an inheriting search: each operation's rule, and those that train from scratch."""
    rules = space.weight_transfer
    grown = ", ".join(f"{op.name} {rules[op.name]}" for op in space.operations if op.name in rules)
    scratch = [op.name for op in space.operations if op.name not in rules]
    line = f"inherited weights: candidates start from their parent ({grown or 'no operation has a rule'})"
    if scratch:
        line += f"; space {space.name!r} has no rule for {', '.join(scratch)}: those candidates train from scratch"
    return line


def inheriting_evaluate(
    space: SearchSpace,
    estimator: Any,
    runs: Callable[[], list[TrialRecord]],
    store: CheckpointStore,
    *,
    on_step: Callable[[Any], None] | None = None,
) -> Evaluate:
    """``evaluate(point, repeat, attrs)`` that starts a candidate from its parent's weights and stores its own."""

    def evaluate(point: Point, repeat: int, attrs: Mapping[str, Any]) -> Measurement:
        if hasattr(estimator, "check"):
            estimator.check(space, point)  # a point the data cannot serve fails for good before any checkpoint is read
        history = runs()
        start, notes = starting_weights(space, point, repeat, attrs, history, store)
        options: dict[str, Any] = {"repeat": repeat} if repeat else {}
        if on_step is not None:
            options["on_step"] = on_step
        measurement = estimator.evaluate(space, point, None, start=start, **options)
        if measurement.weights is None:
            raise NasError("the estimator kept no weights; inherited weights need a proxy schedule with inherit on")
        try:
            checkpoint = store.save(measurement.weights)
        except CheckpointUnwritable as error:
            if checkpoint_failures(history, point, repeat) >= CHECKPOINT_RETRIES:
                raise  # the store keeps refusing (a full disk): stop the search with the reason, not loop on it
            raise CandidateFailed(
                f"{error}; the candidate will be trained again",
                trained=False,
                retry=True,
                attrs={"checkpoint_failure": True},
            ) from None
        return replace(measurement, info={**notes, **measurement.info, "checkpoint": checkpoint}, weights=None)

    return evaluate
