"""A live search: the run loop (:mod:`nas.loop`) over the Optuna ledger, then the chosen model's final training.

Each round re-reads the ledger, so the runner holds no state a kill could
lose: a trial is written RUNNING before its training and finished after it;
a re-run first fails the trials of dead processes (marked for retry) and
then simply continues.  Trials are only ever read under the estimator's
fingerprint, so a point is never trained twice under the same settings.

Several runners (``nas search`` and ``nas worker`` processes, on one machine
or many) can share one ledger: each proposes from the shared history, in
which running trials count as taken; a point two of them take at the same
moment is claimed by one (:meth:`Ledger.claim`); a runner with nothing to
propose while others train backs off until a trial ends.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from estimators.base import Estimator, Measurement, fingerprint_of
from estimators.proxy import CandidateFailed, CandidatePruned
from spaces import Point, SearchSpace
from spaces.errors import NasError

from .checkpoints import CheckpointStore, CheckpointUnavailable
from .config import FINAL_STARTS
from .inheritance import inheriting_evaluate, transfer_summary
from .interrupts import deferred
from .ledger import Ledger, TrialHandle
from .loop import LoopSettings, RunLoop, WallClock, estimator_evaluate, trained_count
from .progress import SearchProgress
from .storage import StorageError
from .strategies.base import COMPLETE, RUNNING, Strategy, TrialRecord

__all__ = ["LedgerTrials", "SearchOutcome", "SearchRunner", "check_repeats", "trained_count"]

#: Longest pause while other workers' trials finish.
MAX_WAIT_SECONDS = 30.0


@dataclass
class SearchOutcome:
    history: list[TrialRecord]  # one record per point, its runs merged (what the strategy sees)
    stopped: str  # "finished", "budget", "time limit"
    chosen: Point | None
    chosen_record: TrialRecord | None
    final: TrialRecord | None = None
    trained_now: int = 0
    retried: list[int] = field(default_factory=list)
    runs: list[TrialRecord] = field(default_factory=list)  # every training run, as the ledger holds them


class LedgerTrials:
    """The run loop's trials in the Optuna ledger, under one estimator fingerprint, on the wall clock.

    A trial is written RUNNING (and claimed) before its training and finished
    after it, each under :func:`deferred` so a Ctrl-C or SIGTERM never strands
    one half-written; while it trains, the ledger's heartbeat shows it alive.
    Waiting for other workers' trials backs off and fails the trials of dead
    processes (marked for retry), as a re-run does on start.
    """

    def __init__(
        self, ledger: Ledger, space: SearchSpace, fingerprint: str, *, roles_excluded: tuple[str, ...] = ("final",)
    ) -> None:
        self.ledger, self.space, self.fingerprint = ledger, space, fingerprint
        self.roles_excluded = roles_excluded
        self.clock = WallClock()
        self.retried: list[int] = []
        self.current: TrialHandle | None = None  # the trial in training (one at a time): what a pruner asks about

    def fail_stale(self) -> list[int]:
        retried = self.ledger.fail_stale()
        self.retried += retried
        return retried

    def runs(self) -> list[TrialRecord]:
        return self.ledger.records(self.fingerprint, roles_excluded=self.roles_excluded)

    def free_slot(self, runs: list[TrialRecord]) -> bool:
        return True  # this process trains one trial at a time, to its end

    def others_pending(self) -> bool:
        return bool(self.ledger.running())

    def wait(self, waits: int) -> None:
        time.sleep(_backoff(waits))
        self.fail_stale()

    def lost_race(self) -> None:
        time.sleep(random.uniform(0.05, 0.5))

    def start(self, point: Point, attrs: dict[str, Any], repeat: int, budget: int | None) -> TrialHandle | None:
        cost = self.space.complexity(point)
        handle = None
        try:
            with deferred():  # the trial exists and is guarded, or does not exist: never stranded RUNNING
                handle = self.ledger.start(
                    point,
                    {
                        **attrs,
                        "fingerprint": self.fingerprint,
                        "macs": cost.macs,
                        "params": cost.params,
                        "input_shape": list(self.space.input_shape(point)),
                    },
                )
                claimed = self.ledger.claim(handle, point, self.fingerprint, budget=budget, repeat=repeat)
        except BaseException as error:  # a failed claim, or a Ctrl-C/SIGTERM deferred to the end of the block
            if handle is not None:
                self.interrupt(handle, error)
            raise
        return handle if claimed else None

    @contextmanager
    def evaluating(self, handle: TrialHandle) -> Iterator[None]:
        self.current = handle
        try:
            with self.ledger.heartbeat(handle):
                yield
        finally:
            self.current = None

    def on_epoch(self, pruner: Any) -> Callable[[int, float], bool]:
        """A training's per-epoch hook: report its top-1 to the ledger and ask ``pruner`` whether to stop there."""

        def report(epoch: int, top1: float) -> bool:
            handle = self.current
            if handle is None:
                return False
            self.ledger.report(handle, epoch, top1)
            return self.ledger.should_prune(handle, pruner)

        return report

    def prune(self, handle: TrialHandle, pruned: CandidatePruned) -> None:
        attrs = {
            **pruned.info,
            "pruned_at_epoch": pruned.epoch,
            "fidelity": float(pruned.epoch),
            "train_seconds": round(pruned.seconds, 3),
        }
        with deferred():  # recorded whole before a Ctrl-C or SIGTERM takes effect
            self.ledger.prune(handle, pruned.accuracy, attrs)

    def finish(self, handle: TrialHandle, measurement: Measurement) -> bool:
        with deferred():  # a finished training is recorded whole before a Ctrl-C or SIGTERM takes effect
            return self.ledger.complete(handle, measurement.metrics["accuracy"], _measurement_attrs(measurement))

    def fail(self, handle: TrialHandle, error: CandidateFailed, seconds: float) -> None:
        with deferred():  # one guarded write: a trial another worker failed meanwhile (this one was silent) stays so
            attrs = {**getattr(error, "attrs", {}), **({} if error.trained else {"trained": False})}
            self.ledger.fail(handle, str(error), retry=getattr(error, "retry", False), attrs=attrs or None)

    def interrupt(self, handle: TrialHandle, error: BaseException) -> None:
        if not isinstance(error, StorageError):  # a lost ledger cannot be written; its trial is failed by the next run
            with deferred():
                self.ledger.fail(handle, "interrupted", retry=True)

    def record(self, handle: TrialHandle) -> TrialRecord:
        return self.ledger.record(handle)


class SearchRunner:
    """A live search (``nas search``, ``nas worker``): the run loop over the ledger,
    then the chosen model's final training."""

    def __init__(
        self,
        space: SearchSpace,
        strategy: Strategy,
        estimator: Estimator,
        ledger: Ledger,
        *,
        budget: int | Callable[[], int | None] | None = None,
        time_limit: float | None = None,
        final_epochs: float | None = None,
        progress: SearchProgress | None = None,
        repeats: int = 1,
        checkpoints: CheckpointStore | None = None,
        final_start: str = "scratch",
    ) -> None:
        if isinstance(budget, int) and budget < 1:
            raise NasError(f"--budget must be at least 1 trained model, got {budget}")
        if time_limit is not None and time_limit <= 0:
            raise NasError(f"--time-limit must be positive, got {time_limit}")
        self.space, self.strategy, self.estimator, self.ledger = space, strategy, estimator, ledger
        self.final_epochs = final_epochs
        self.progress = progress or SearchProgress()
        self.fingerprint = estimator.fingerprint()
        self.settings = LoopSettings(budget=budget, time_limit=time_limit, repeats=check_repeats(repeats))
        self.trials = LedgerTrials(ledger, space, self.fingerprint)
        self.checkpoints, self.final_start = checkpoints, check_final_start(final_start)
        self.inherit = bool(getattr(getattr(estimator, "schedule", None), "inherit", False))
        if (self.inherit or final_start == "search") and checkpoints is None:
            raise NasError(
                "inherited weights need a checkpoint store (--checkpoints DIR, a folder every worker reaches)"
            )
        if final_start == "search" and not self.inherit:
            raise NasError("--final-start search needs a search with --inherit (only it keeps the candidates' weights)")
        on_epoch = self.trials.on_epoch(pruner_for(strategy, estimator)) if strategy.pruner else None
        evaluate = (
            inheriting_evaluate(space, estimator, self.trials.runs, checkpoints, on_step=self.progress.on_step)
            if self.inherit
            else estimator_evaluate(space, estimator, on_step=self.progress.on_step, on_epoch=on_epoch)
        )
        self.loop = RunLoop(strategy, evaluate, self.trials, self.settings, progress=self.progress)
        if self.inherit:
            self.progress.message(transfer_summary(space))

    @property
    def repeats(self) -> int:
        return self.settings.repeats

    def history(self) -> list[TrialRecord]:
        """Every training run under the estimator's fingerprint (several per point with repeats)."""
        return self.trials.runs()

    def view(self, runs: list[TrialRecord]) -> list[TrialRecord]:
        """What the strategy sees: one record per point, its runs merged (:func:`aggregate_runs`)."""
        return self.loop.view(runs)

    def current_budget(self) -> int | None:
        return self.settings.current_budget()

    def run(self) -> SearchOutcome:
        for number in self.trials.fail_stale():
            self.progress.message(f"trial {number} was interrupted (its worker died); its point will be trained again")
        stopped = self.loop.run()
        runs = self.history()
        history = self.view(runs)
        chosen = self.strategy.chosen(history)
        record = next((r for r in history if r.point == chosen and r.state == COMPLETE), None)
        outcome = SearchOutcome(
            history,
            stopped,
            chosen,
            record,
            trained_now=self.loop.trained_now,
            retried=list(self.trials.retried),
            runs=runs,
        )
        complete = stopped == "finished" or (stopped == "budget" and not self.strategy.terminates)
        if complete and chosen is not None and self.final_epochs:
            outcome.final = self.final_training(chosen)
        self.progress.close()
        return outcome

    # -- the chosen model's longer training ----------------------------------------------------
    def final_training(self, point: Point) -> TrialRecord | None:
        """Train the chosen point with the final schedule, once: a re-run (or another search process) finds it."""
        fingerprint = self.estimator.fingerprint(self.final_epochs)
        evaluate = estimator_evaluate(
            self.space, self.estimator, fidelity=self.final_epochs, on_step=self.progress.on_step
        )
        if self.final_start == "search":  # another training than from scratch: its own identity
            fingerprint = fingerprint_of(
                "final-from-search-weights", {"final": fingerprint, "search": self.fingerprint}
            )
            evaluate = self._from_search_weights(point)
        trials = LedgerTrials(self.ledger, self.space, fingerprint, roles_excluded=())
        final = RunLoop(self.strategy, evaluate, trials, progress=self.progress)
        waits = 0
        while True:
            trials.fail_stale()
            records = [r for r in trials.runs() if r.point == point]
            done = next((r for r in records if r.settled), None)
            if done is not None:
                return done
            if not any(r.state == RUNNING for r in records):
                self.progress.message(f"final training of the chosen model ({self.final_epochs:g} epochs)")
                record = final.train(
                    point,
                    {"role": "final", "strategy": self.strategy.name},
                    f"final {point.key}",
                    1,
                    1,
                    planned_after=[],
                )
                if record is not None and record.settled:
                    return record
            waits += 1
            time.sleep(_backoff(waits))  # another process trains it: wait for its result

    def _from_search_weights(self, point: Point) -> Callable[..., Measurement]:
        """The final training's ``evaluate``, starting from the weights the chosen point's search trial kept."""
        from .inheritance import parent_record

        def evaluate(chosen: Point, repeat: int, attrs: Any = None) -> Measurement:
            record = parent_record(self.history(), chosen.key)
            start, notes = None, {}
            try:
                if record is None:
                    raise CheckpointUnavailable(f"the chosen point {chosen.key} has no complete search trial")
                start = (chosen, self.checkpoints.load(record.attrs.get("checkpoint")))
                notes = {"start_trial": record.attrs.get("number")}
            except CheckpointUnavailable as error:  # the final training still runs: from scratch, saying why
                notes = {"inherited": False, "inherit_note": f"trained from scratch: {error}"}
            measurement = self.estimator.evaluate(
                self.space, chosen, self.final_epochs, start=start, on_step=self.progress.on_step
            )
            return replace(measurement, info={**measurement.info, **notes}, weights=None)

        return evaluate


def pruner_for(strategy: Strategy, estimator: Estimator) -> Any:
    """The Optuna pruner of a pruning strategy, sized to the estimator's epochs."""
    from .pruning import make_pruner

    if not getattr(estimator, "prunable", False):
        raise NasError(
            f"strategy {strategy.name!r} prunes trainings after each epoch; the {estimator.name!r} "
            "estimator trains no epochs"
        )
    return make_pruner(strategy.pruner, float(estimator.schedule.epochs))


def check_final_start(start: object) -> str:
    """``--final-start``: scratch or search."""
    if start not in FINAL_STARTS:
        raise NasError(f"--final-start must be one of: {', '.join(FINAL_STARTS)}; got {start!r}")
    return str(start)


#: The most training seeds one point gets (``--repeats``, and the coordinate strategy's tie rule).
MAX_REPEATS = 20


def check_repeats(repeats: object) -> int:
    """``--repeats``: a whole number of training seeds per point, 1 to MAX_REPEATS."""
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= MAX_REPEATS:
        raise NasError(f"--repeats must be a whole number of training seeds from 1 to {MAX_REPEATS}, got {repeats!r}")
    return repeats


def _backoff(waits: int) -> float:
    """Seconds to wait after ``waits`` fruitless looks: 0.75 s growing to MAX_WAIT_SECONDS, jittered."""
    return min(MAX_WAIT_SECONDS, 0.5 * 1.5**waits) * random.uniform(0.8, 1.2)


def _measurement_attrs(measurement: Measurement) -> dict[str, Any]:
    attrs = {
        **{k: v for k, v in measurement.metrics.items()},
        "fidelity": measurement.fidelity,
        "train_seconds": round(measurement.seconds, 3),
    }
    attrs.update(measurement.info)
    return attrs
