"""The runner: strategy proposes, estimator measures, ledger records, until the strategy is done.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from estimators.base import Estimator, Measurement
from estimators.proxy import CandidateFailed
from spaces import Point, SearchSpace
from spaces.errors import NasError

from .interrupts import deferred
from .ledger import Ledger
from .progress import SearchProgress
from .storage import StorageError
from .strategies.base import (
    COMPLETE,
    FAILED,
    RUNNING,
    Proposal,
    Strategy,
    TrialRecord,
    aggregate_runs,
    owed_runs,
    repeat_of,
)

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


def trained_count(history: Sequence[TrialRecord]) -> int:
    """Models trained (complete, or failed for good in training): what ``--budget`` counts.

    A point the data cannot serve fails before any training, for free, and costs no budget.
    """
    return sum(1 for r in history if r.settled and r.attrs.get("trained", True))


class SearchRunner:
    def __init__(self, space: SearchSpace, strategy: Strategy, estimator: Estimator, ledger: Ledger, *,
                 budget: int | Callable[[], int | None] | None = None, time_limit: float | None = None, final_epochs: float | None = None,
                 progress: SearchProgress | None = None, repeats: int = 1) -> None:
        if isinstance(budget, int) and budget < 1:
            raise NasError(f"--budget must be at least 1 trained model, got {budget}")
        if time_limit is not None and time_limit <= 0:
            raise NasError(f"--time-limit must be positive, got {time_limit}")
        self.space, self.strategy, self.estimator, self.ledger = space, strategy, estimator, ledger
        self.budget, self.time_limit, self.final_epochs = budget, time_limit, final_epochs
        self.progress = progress or SearchProgress()
        self.fingerprint = estimator.fingerprint()
        self.repeats = check_repeats(repeats)

    def history(self) -> list[TrialRecord]:
        """Every training run under the estimator's fingerprint (several per point with repeats)."""
        return self.ledger.records(self.fingerprint)

    def view(self, runs: list[TrialRecord]) -> list[TrialRecord]:
        """What the strategy sees: one record per point, its runs merged (:func:`aggregate_runs`)."""
        return aggregate_runs(runs, self.repeats)

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> SearchOutcome:
        started, trained_now, waits = time.monotonic(), 0, 0
        retried = self.ledger.fail_stale()
        for number in retried:
            self.progress.message(f"trial {number} was interrupted (its worker died); its point will be trained again")
        while True:
            history = self.history()
            stopped = self._stop_reason(history, started)
            if stopped:
                break
            proposals = [] if self._budget_taken(history) else self._next(history)
            if not proposals:
                if not self.ledger.running():
                    if self._budget_taken(history) or self.history() != history:
                        continue  # trials ended between the two reads: look again
                    raise NasError(f"strategy {self.strategy.name!r} proposed nothing but is not finished; this is a bug")
                waits += 1
                time.sleep(_backoff(waits))  # other workers' trials (a step's other candidates): wait, not spin
                retried += self.ledger.fail_stale()
                continue
            waits = 0
            if self._measure(proposals[0], history) is None:
                time.sleep(random.uniform(0.05, 0.5))  # another worker took the point at the same moment
                continue
            trained_now += 1
        runs = self.history()
        history = self.view(runs)
        chosen = self.strategy.chosen(history)
        record = next((r for r in history if r.point == chosen and r.state == COMPLETE), None)
        outcome = SearchOutcome(history, stopped, chosen, record, trained_now=trained_now, retried=retried, runs=runs)
        complete = stopped == "finished" or (stopped == "budget" and not self.strategy.terminates)
        if complete and chosen is not None and self.final_epochs:
            outcome.final = self.final_training(chosen)
        self.progress.close()
        return outcome

    def _next(self, runs: list[TrialRecord]) -> list[Proposal]:
        """The runs owed to points already started (``--repeats``), else the strategy's next proposal."""
        return owed_runs(runs, self.repeats) or self.strategy.propose(self.view(runs), 1)

    def current_budget(self) -> int | None:
        return self.budget() if callable(self.budget) else self.budget

    def _budget_taken(self, history: list[TrialRecord]) -> bool:
        """Trained plus running models fill the budget: start nothing more (other workers finish theirs)."""
        budget = self.current_budget()
        running = sum(1 for r in history if r.state == RUNNING)
        return budget is not None and trained_count(history) + running >= budget

    def _stop_reason(self, history: list[TrialRecord], started: float) -> str | None:
        if self.strategy.is_finished(self.view(history)) and not owed_runs(history, self.repeats):
            return "finished"
        budget = self.current_budget()
        if budget is not None and trained_count(history) >= budget:
            return "budget"
        if self.time_limit is not None and time.monotonic() - started >= self.time_limit:
            return "time limit"
        return None

    def _measure(self, proposal: Proposal, history: list[TrialRecord]) -> TrialRecord | None:
        point = proposal.point
        repeat = self._repeat_of(proposal, history)
        if any(r.point == point and repeat_of(r) == repeat and r.settled for r in history):
            raise NasError(f"strategy {self.strategy.name!r} proposed {point.key} (run {repeat}), which this study has "
                           "measured; this is a bug in the strategy")
        budget = self.current_budget()
        retry_of = [r.attrs["number"] for r in history if r.point == point and repeat_of(r) == repeat and r.state == FAILED]
        attrs = {**proposal.attrs, "strategy": self.strategy.name, **({"retry_of": retry_of[-1]} if retry_of else {})}
        attrs.pop("repeat", None)
        if repeat or self.repeats > 1:
            attrs["repeat"] = repeat  # which training seed of the point this run is
        planned = self.strategy.planned_costs(self.view(history))
        if budget is not None:  # an open-ended strategy plans nothing: the budget is its plan
            left = budget - trained_count(history)
            planned = (planned or [self.strategy.cost(point)] * left)[:left]
        total = trained_count(history) + max(len(planned), 1)
        label = self._label(proposal) + (f" (seed {repeat + 1})" if repeat or self.repeats > 1 else "")
        return self._train(point, attrs, label, trained_count(history) + 1, total, fingerprint=self.fingerprint,
                           fidelity=None, planned_after=planned[1:], repeat=repeat)

    def _repeat_of(self, proposal: Proposal, history: list[TrialRecord]) -> int:
        """The run a proposal asks for: its own ``repeat``, else the point's first run no trial holds."""
        if "repeat" in proposal.attrs:
            return int(proposal.attrs["repeat"])
        held = {repeat_of(r) for r in history if r.point == proposal.point and (r.settled or r.state == RUNNING)}
        return next(k for k in range(len(held) + 1) if k not in held)

    def _label(self, proposal: Proposal) -> str:
        attrs = proposal.attrs
        parts = [f"step {attrs['step']}" if "step" in attrs else "", attrs.get("operation") or attrs.get("role", "")]
        return " ".join(p for p in parts if p) + f" {proposal.point.key}"

    def _train(self, point: Point, attrs: dict[str, Any], label: str, index: int, total: int, *,
               fingerprint: str, fidelity: float | None, planned_after: Sequence[int], repeat: int = 0) -> TrialRecord | None:
        """Train ``point`` into a new trial; None if another worker holds the point (nothing trained)."""
        cost = self.space.complexity(point)
        macs = self.strategy.cost(point)  # the strategy's cost (MACs, or microseconds under latency); "macs" stays MACs
        handle = None
        started = time.monotonic()
        try:
            with deferred():  # the trial exists and is guarded, or does not exist: never stranded RUNNING
                handle = self.ledger.start(point, {**attrs, "fingerprint": fingerprint, "macs": cost.macs, "cost": macs,
                                                   "params": cost.params,
                                                   "input_shape": list(self.space.input_shape(point))})
                budget = self.current_budget() if fidelity is None else None
                if not self.ledger.claim(handle, point, fingerprint, budget=budget, repeat=repeat):
                    return None
            self.progress.trial_started(index, total, label, planned_after, macs)
            with self.ledger.heartbeat(handle):
                measurement = self._evaluate(point, fidelity, repeat)
            accuracy = measurement.metrics["accuracy"]
            with deferred():  # a finished training is recorded whole before a Ctrl-C or SIGTERM takes effect
                kept = self.ledger.complete(handle, accuracy, _measurement_attrs(measurement))
        except CandidateFailed as error:
            with deferred():
                if not error.trained:
                    self.ledger.set_attrs(handle, {"trained": False})
                self.ledger.fail(handle, str(error), retry=False)
            self.progress.trial_finished(macs, time.monotonic() - started, f"failed: {error}", planned_after)
            return self.ledger.record(handle)
        except BaseException as error:  # interrupted (Ctrl-C) or crashed: the point is tried again next time
            if handle is not None and not isinstance(error, StorageError):
                with deferred():
                    self.ledger.fail(handle, "interrupted", retry=True)
            raise
        if not kept:
            self.progress.message(f"trial {handle.number} was failed by another worker's heartbeat check while it "
                                  "trained (this worker was silent too long); its result is dropped and the point retried")
        se = measurement.metrics.get("accuracy_se")
        shown = f"top-1 {accuracy:.3f}" + (f" ± {se:.3f}" if se is not None else "")
        self.progress.trial_finished(macs, measurement.seconds, shown, planned_after)
        return self.ledger.record(handle)

    def _evaluate(self, point: Point, fidelity: float | None, repeat: int = 0) -> Measurement:
        seeded = {"repeat": repeat} if repeat else {}  # estimators without seeds of their own are never asked for one
        if getattr(self.estimator, "reports_progress", False):
            return self.estimator.evaluate(self.space, point, fidelity, on_step=self.progress.on_step, **seeded)
        return self.estimator.evaluate(self.space, point, fidelity, **seeded)

    # -- the chosen model's longer training ----------------------------------------------------
    def final_training(self, point: Point) -> TrialRecord | None:
        """Train the chosen point with the final schedule, once: a re-run (or another search process) finds it."""
        fingerprint = self.estimator.fingerprint(self.final_epochs)
        waits = 0
        while True:
            self.ledger.fail_stale()
            records = [r for r in self.ledger.records(fingerprint, roles_excluded=()) if r.point == point]
            done = next((r for r in records if r.settled), None)
            if done is not None:
                return done
            if not any(r.state == RUNNING for r in records):
                self.progress.message(f"final training of the chosen model ({self.final_epochs:g} epochs)")
                record = self._train(point, {"role": "final", "strategy": self.strategy.name}, f"final {point.key}", 1, 1,
                                     fingerprint=fingerprint, fidelity=self.final_epochs, planned_after=[])
                if record is not None and record.settled:
                    return record
            waits += 1
            time.sleep(_backoff(waits))  # another process trains it: wait for its result


#: The most training seeds one point gets (``--repeats``, and the coordinate strategy's tie rule).
MAX_REPEATS = 20


def check_repeats(repeats: object) -> int:
    """``--repeats``: a whole number of training seeds per point, 1 to MAX_REPEATS."""
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= MAX_REPEATS:
        raise NasError(f"--repeats must be a whole number of training seeds from 1 to {MAX_REPEATS}, got {repeats!r}")
    return repeats


def _backoff(waits: int) -> float:
    """Seconds to wait after ``waits`` fruitless looks: 0.75 s growing to MAX_WAIT_SECONDS, jittered."""
    return min(MAX_WAIT_SECONDS, 0.5 * 1.5 ** waits) * random.uniform(0.8, 1.2)


def _measurement_attrs(measurement: Measurement) -> dict[str, Any]:
    attrs = {**{k: v for k, v in measurement.metrics.items()}, "fidelity": measurement.fidelity,
             "train_seconds": round(measurement.seconds, 3)}
    attrs.update(measurement.info)
    return attrs
