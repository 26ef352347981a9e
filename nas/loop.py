"""The one run loop: the strategy proposes, the trial is claimed, the estimator evaluates, the result is recorded.

Every consumer drives this loop and differs only in where its trials live
and what time is:

- a live search and ``nas worker``: trials in the Optuna ledger, wall-clock
  time (:class:`nas.runner.LedgerTrials`);
- ``nas bench compare`` and the worker simulation: trials in memory, on a
  simulated clock with W workers, each trial lasting the seconds its
  measurement reports (:class:`MemoryTrials`);
- the tabular benchmark build: trials in the HDF5 table, one run per
  training seed (:class:`nas.tabular_build.TableTrials`).

The loop holds no state between rounds: each round re-reads the trials, so
a kill loses nothing and a resumed loop simply continues.  What it decides
(owed seeds first, then the strategy; the budget counting running trials as
taken; when to wait and when to stop) is therefore the same everywhere.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

from estimators.base import Measurement
from estimators.proxy import CandidateFailed, CandidatePruned
from spaces import Point
from spaces.errors import NasError

from .strategies.base import (
    COMPLETE,
    FAILED,
    PRUNED,
    RUNNING,
    Proposal,
    Strategy,
    TrialRecord,
    aggregate_runs,
    owed_runs,
    repeat_of,
)

#: ``evaluate(point, repeat, attrs)``: one training run of a point under its ``repeat``-th seed; ``attrs`` are what
#: the strategy proposed it with (a coordinate candidate's ``parent``, for inherited weights).
Evaluate = Callable[[Point, int, Mapping[str, Any]], Measurement]


def trained_count(history: Sequence[TrialRecord]) -> int:
    """Models trained (complete, or failed for good in training): what ``--budget`` counts.

    A point the data cannot serve fails before any training, for free, and costs no budget.
    """
    return sum(1 for r in history if r.settled and r.attrs.get("trained", True))


class StrategyStalled(NasError):
    """The strategy proposed nothing, is not finished, and no trial is running that could change that."""


class Clock(Protocol):
    def now(self) -> float: ...


class WallClock:
    """Monotonic seconds: the clock of live searches."""

    def now(self) -> float:
        return time.monotonic()


class Trials(Protocol):
    """Where a loop's trials live, and how waiting for other trials is done."""

    clock: Clock

    def runs(self) -> list[TrialRecord]:
        """Every training run, running ones included (several per point with repeats)."""

    def free_slot(self, runs: list[TrialRecord]) -> bool:
        """Whether this loop may start a trial now (a simulation with W workers: fewer than W running)."""

    def others_pending(self) -> bool:
        """Trials in progress that will end without this loop's help (other workers', or simulated ones)."""

    def wait(self, waits: int) -> None:
        """Nothing to start now: let time pass until a trial may have ended (``waits``: fruitless looks so far)."""

    def lost_race(self) -> None:
        """Another worker took the point at the same moment: pause a little before looking again."""

    def start(self, point: Point, attrs: dict[str, Any], repeat: int, budget: int | None) -> Any:
        """Record the trial as running and claim it; None if another worker holds the point (nothing to do)."""

    def evaluating(self, handle: Any) -> Any:
        """A context manager around the evaluation (the ledger's heartbeat)."""

    def finish(self, handle: Any, measurement: Measurement) -> bool:
        """Record the result; False if the trial had been failed meanwhile (its result is dropped)."""

    def fail(self, handle: Any, error: CandidateFailed, seconds: float) -> None:
        """Record a failure for good (``error.trained``: whether training time was spent)."""

    def prune(self, handle: Any, pruned: CandidatePruned) -> None:
        """Record a training a pruner stopped: pruned for good, at its epoch, costing the seconds it trained."""

    def interrupt(self, handle: Any, error: BaseException) -> None:
        """The evaluation was interrupted or crashed: leave the point to be tried again."""

    def record(self, handle: Any) -> TrialRecord:
        """The trial as it now stands."""


class SilentProgress:
    """Progress events with nowhere to go (comparisons and simulations run thousands of trials)."""

    def message(self, text: str) -> None: ...

    def trial_started(self, index: int, total: int, label: str, planned_after: Sequence[int], macs: int) -> None: ...

    def on_step(self, report: Any) -> None: ...

    def trial_finished(self, macs: int, seconds: float, outcome: str, planned_after: Sequence[int]) -> None: ...

    def close(self) -> None: ...


@dataclass
class LoopSettings:
    """When a loop stops: ``budget`` trained models (a callable is re-read each round), ``time_limit`` seconds."""

    budget: int | Callable[[], int | None] | None = None
    time_limit: float | None = None
    repeats: int = 1
    max_proposals: int | None = None  # a guard for simulations: strategies that keep proposing free failures
    every_seed: bool = False  # a point's failure under one seed still owes its other seeds (the table build)

    def owed(self, runs: list[TrialRecord]) -> list[Proposal]:
        """The runs owed to points already started: trained before anything new."""
        return owed_runs(runs, self.repeats, after_failure=self.every_seed)

    def current_budget(self) -> int | None:
        return self.budget() if callable(self.budget) else self.budget


class RunLoop:
    """Propose → claim → evaluate → record until the strategy is finished, the budget taken or the time up."""

    def __init__(
        self,
        strategy: Strategy,
        evaluate: Evaluate,
        trials: Trials,
        settings: LoopSettings | None = None,
        *,
        progress: Any = None,
        view: Callable[[list[TrialRecord]], list[TrialRecord]] | None = None,
        label: Callable[[Proposal], str] | None = None,
    ) -> None:
        self.strategy, self.evaluate, self.trials = strategy, evaluate, trials
        self.settings = settings or LoopSettings()
        self.progress = progress or SilentProgress()
        self._view = view
        self._label = label or default_label
        self.trained_now = 0

    def view(self, runs: list[TrialRecord]) -> list[TrialRecord]:
        """What the strategy sees: one record per point, its runs merged (:func:`aggregate_runs`)."""
        return self._view(runs) if self._view is not None else aggregate_runs(runs, self.settings.repeats)

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> str:
        """Run until a stop; returns why: "finished", "budget", "time limit" (or "stalled" with ``max_proposals``)."""
        started, waits, proposals = self.trials.clock.now(), 0, 0
        while True:
            runs = self.trials.runs()
            stopped = self.stop_reason(runs, started)
            if stopped:
                return stopped
            proposal = None if self.budget_taken(runs) or not self.trials.free_slot(runs) else self.next(runs)
            if proposal is None:
                if not self.trials.others_pending():
                    if self.budget_taken(runs) or self.trials.runs() != runs:
                        continue  # trials ended between the two reads: look again
                    raise StrategyStalled(
                        f"strategy {self.strategy.name!r} proposed nothing but is not finished; this is a bug"
                    )
                waits += 1
                self.trials.wait(waits)  # other workers' trials (a step's other candidates): wait, not spin
                continue
            waits, proposals = 0, proposals + 1
            if self.settings.max_proposals is not None and proposals > self.settings.max_proposals:
                return "stalled"
            if self.measure(proposal, runs) is None:
                self.trials.lost_race()
                continue
            self.trained_now += 1

    def next(self, runs: list[TrialRecord]) -> Proposal | None:
        """The runs owed to points already started (``--repeats``), else the strategy's next proposal."""
        proposals = self.settings.owed(runs) or self.strategy.propose(self.view(runs), 1)
        return proposals[0] if proposals else None

    def budget_taken(self, runs: list[TrialRecord]) -> bool:
        """Trained plus running models fill the budget: start nothing more (other workers finish theirs)."""
        budget = self.settings.current_budget()
        running = sum(1 for r in runs if r.state == RUNNING)
        return budget is not None and trained_count(runs) + running >= budget

    def stop_reason(self, runs: list[TrialRecord], started: float) -> str | None:
        if self.strategy.is_finished(self.view(runs)) and not self.settings.owed(runs):
            return "finished"
        budget = self.settings.current_budget()
        if budget is not None and trained_count(runs) >= budget:
            return "budget"
        limit = self.settings.time_limit
        if limit is not None and self.trials.clock.now() - started >= limit:
            return "time limit"
        return None

    # -- one trial -----------------------------------------------------------------------------
    def measure(self, proposal: Proposal, runs: list[TrialRecord]) -> TrialRecord | None:
        """Train the proposed run into a new trial; None if another worker holds it (nothing trained)."""
        point = proposal.point
        repeat = self.repeat_asked(proposal, runs)
        if any(r.point == point and repeat_of(r) == repeat and r.settled for r in runs):
            raise NasError(
                f"strategy {self.strategy.name!r} proposed {point.key} (run {repeat + 1}), which this study has "
                "measured; this is a bug in the strategy"
            )
        retry_of = [
            r.attrs["number"]
            for r in runs
            if r.point == point and repeat_of(r) == repeat and r.state == FAILED and "number" in r.attrs
        ]
        attrs = {**proposal.attrs, "strategy": self.strategy.name, **({"retry_of": retry_of[-1]} if retry_of else {})}
        attrs.pop("repeat", None)
        if repeat or self.settings.repeats > 1:
            attrs["repeat"] = repeat  # which training seed of the point this run is
        budget = self.settings.current_budget()
        planned = self.strategy.planned_costs(self.view(runs))
        if budget is not None:  # an open-ended strategy plans nothing: the budget is its plan
            left = budget - trained_count(runs)
            planned = (planned or [self.strategy.cost(point)] * left)[:left]
        done = trained_count(runs)
        label = self._label(proposal) + (f" (run {repeat + 1})" if repeat or self.settings.repeats > 1 else "")
        return self.train(
            point,
            attrs,
            label,
            done + 1,
            done + max(len(planned), 1),
            planned_after=planned[1:],
            repeat=repeat,
            budget=budget,
        )

    def repeat_asked(self, proposal: Proposal, runs: list[TrialRecord]) -> int:
        """The run a proposal asks for: its own ``repeat``, else the point's first run no trial holds."""
        if "repeat" in proposal.attrs:
            return int(proposal.attrs["repeat"])
        held = {repeat_of(r) for r in runs if r.point == proposal.point and (r.settled or r.state == RUNNING)}
        return next(k for k in range(len(held) + 1) if k not in held)

    def train(
        self,
        point: Point,
        attrs: dict[str, Any],
        label: str,
        index: int,
        total: int,
        *,
        planned_after: Sequence[int],
        repeat: int = 0,
        budget: int | None = None,
    ) -> TrialRecord | None:
        """One trial, start to record; None if another worker holds the point (nothing trained)."""
        cost = self.strategy.cost(point)  # the strategy's cost (MACs, or microseconds under latency)
        handle = None
        started = self.trials.clock.now()
        try:
            handle = self.trials.start(point, {**attrs, "cost": cost}, repeat, budget)
            if handle is None:
                return None
            self.progress.trial_started(index, total, label, planned_after, cost)
            with self.trials.evaluating(handle):
                measurement = self.evaluate(point, repeat, attrs)
            kept = self.trials.finish(handle, measurement)
        except CandidateFailed as error:
            seconds = self.trials.clock.now() - started
            self.trials.fail(handle, error, seconds if error.trained else 0.0)
            self.progress.trial_finished(cost, seconds, f"failed: {error}", planned_after)
            return self.trials.record(handle)
        except CandidatePruned as pruned:
            self.trials.prune(handle, pruned)
            self.progress.trial_finished(cost, pruned.seconds, str(pruned), planned_after)
            return self.trials.record(handle)
        except BaseException as error:  # interrupted (Ctrl-C) or crashed: the point is tried again next time
            if handle is not None:
                self.trials.interrupt(handle, error)
            raise
        if not kept:
            self.progress.message(
                f"trial {getattr(handle, 'number', '?')} was failed by another worker's heartbeat "
                "check while it trained (this worker was silent too long); its result is dropped "
                "and the point retried"
            )
        accuracy, se = measurement.metrics["accuracy"], measurement.metrics.get("accuracy_se")
        shown = f"top-1 {accuracy:.3f}" + (f" ± {se:.3f}" if se is not None else "")
        self.progress.trial_finished(cost, measurement.seconds, shown, planned_after)
        return self.trials.record(handle)


def default_label(proposal: Proposal) -> str:
    """``step 2 temporal frames=...``: what the progress line calls a trial."""
    attrs = proposal.attrs
    parts = [f"step {attrs['step']}" if "step" in attrs else "", attrs.get("operation") or attrs.get("role", "")]
    return " ".join(p for p in parts if p) + f" {proposal.point.key}"


# -- trials in memory, on a simulated clock ---------------------------------------------------------------
class SimulatedClock:
    """Seconds that pass only when the simulation says so."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def now(self) -> float:
        return self.seconds


@dataclass
class _Running:
    ends: float
    order: int
    record: TrialRecord

    def __lt__(self, other: _Running) -> bool:
        return (self.ends, self.order) < (other.ends, other.order)


class MemoryTrials:
    """Trials in memory for ``workers`` simulated trainers; a trial lasts the seconds its measurement reports.

    With one worker every trial ends before the next starts (``nas bench
    compare``); with more, up to ``workers`` run at once and the strategy sees
    the running ones as taken, as live workers sharing a ledger do.  A point
    the data cannot serve fails at once, for free.
    """

    def __init__(self, cost: Callable[[Point], int], workers: int = 1, pruner: Any = None) -> None:
        if workers < 1:
            raise NasError(f"a simulation needs at least 1 worker, got {workers}")
        if pruner is not None and workers > 1:  # its trainings' curves would be read before their time
            raise NasError(
                f"pruning is simulated with one worker only, not {workers}: a simulated training's whole "
                "curve is read when it starts, before the others' trainings would have ended"
            )
        self.cost, self.workers = cost, workers
        self.clock = SimulatedClock()
        self.done: list[TrialRecord] = []
        self.running: list[_Running] = []
        self.busy = 0.0  # summed training seconds
        self._order = 0
        self.pruning = SimulatedPruning(pruner) if pruner is not None else None

    def runs(self) -> list[TrialRecord]:
        return self.done + [TrialRecord(item.record.point, RUNNING) for item in self.running]  # heap order, as ever

    def free_slot(self, runs: list[TrialRecord]) -> bool:
        return len(self.running) < self.workers

    def others_pending(self) -> bool:
        return bool(self.running)

    def wait(self, waits: int) -> None:
        """The next trial to end ends: the clock jumps to it."""
        item = heapq.heappop(self.running)
        self.clock.seconds = item.ends
        self.done.append(item.record)

    def drain(self) -> None:
        """Let every running trial end (a stopped simulation still waits for its workers)."""
        while self.running:
            self.wait(0)

    def lost_race(self) -> None:  # one process: no other worker takes a point
        return None

    def start(self, point: Point, attrs: dict[str, Any], repeat: int, budget: int | None) -> dict[str, Any]:
        handle: dict[str, Any] = {"point": point, "attrs": attrs}
        if self.pruning is not None:
            handle["trial"] = self.pruning.start({**attrs, "repeat": repeat, "point": point.key})
        return handle

    def evaluating(self, handle: Any) -> Any:
        if self.pruning is None:
            return nullcontext()
        return self.pruning.current(handle["trial"])

    def on_epoch(self, epoch: int, top1: float) -> bool:
        """The simulated training's per-epoch hook: report to the in-memory study, ask its pruner."""
        return self.pruning is not None and self.pruning.report(epoch, top1)

    def finish(self, handle: dict[str, Any], measurement: Measurement) -> bool:
        attrs = {**handle["attrs"], "seconds": measurement.seconds, "source": str(measurement.info.get("source", ""))}
        accuracy = float(measurement.metrics["accuracy"])
        record = TrialRecord(handle["point"], COMPLETE, accuracy, self.cost(handle["point"]), attrs)
        if self.pruning is not None:
            self.pruning.finish(handle["trial"], accuracy)
        self._schedule(handle, record, measurement.seconds)
        return True

    def fail(self, handle: dict[str, Any], error: CandidateFailed, seconds: float) -> None:
        attrs = {**handle["attrs"], "trained": error.trained, "seconds": 0.0, "source": "table"}
        record = TrialRecord(handle["point"], FAILED, None, self.cost(handle["point"]), attrs)
        if self.pruning is not None:
            self.pruning.finish(handle["trial"], None)
        if error.trained:
            self._schedule(handle, record, 0.0)
        else:
            self.done.append(record)  # fails before any training: no worker is held
            handle["record"] = record

    def prune(self, handle: dict[str, Any], pruned: CandidatePruned) -> None:
        """A training the pruner stopped: recorded as a live search records it, costing the seconds it ran."""
        attrs = {
            **handle["attrs"],
            **pruned.info,
            "seconds": pruned.seconds,
            "pruned_at_epoch": pruned.epoch,
            "fidelity": float(pruned.epoch),
            "pruned_top1": float(pruned.accuracy),
        }
        attrs.setdefault("source", "table")
        record = TrialRecord(handle["point"], PRUNED, None, self.cost(handle["point"]), attrs)
        if self.pruning is not None:
            self.pruning.prune(handle["trial"])
        self._schedule(handle, record, pruned.seconds)

    def interrupt(self, handle: Any, error: BaseException) -> None:
        return None  # nothing in memory outlives the simulation

    def record(self, handle: dict[str, Any]) -> TrialRecord:
        return handle["record"]

    def _schedule(self, handle: dict[str, Any], record: TrialRecord, seconds: float) -> None:
        self._order += 1
        self.busy += seconds
        handle["record"] = record
        heapq.heappush(self.running, _Running(self.clock.now() + seconds, self._order, record))
        if self.workers == 1:
            self.wait(0)  # one worker: the trial ends before anything else happens


#: The trial attributes a pruner may read (:mod:`nas.step_halving` groups a step's candidates by them).
PRUNER_ATTRS = ("step", "role", "parent", "repeat", "tie_break", "point")


class SimulatedPruning:
    """An in-memory Optuna study that simulated trainings report their per-epoch top-1 to, so that Optuna's own
    pruner decides, as it does in a live search over the ledger (public ask-and-tell API only).

    Successive halving (``asha``) decides from the reported values alone, so it stops a simulated training where
    the live search would have; Hyperband assigns each trial a bracket from a hash of the study's name and the
    trial's number, so its simulated brackets are those of a study named ``simulated``: the same in every run,
    not those of a given live study.
    """

    def __init__(self, pruner: Any) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)  # the comparison's own lines say what happens
        # a fixed name: Hyperband assigns a trial's bracket from a hash of the study's name and the trial's number
        self.study = optuna.create_study(
            study_name="simulated", direction="maximize", pruner=pruner, storage=optuna.storages.InMemoryStorage()
        )
        self.trial: Any = None  # the trial in training (one worker: one at a time)

    def start(self, attrs: Mapping[str, Any]) -> Any:
        """A new in-memory trial, carrying what a pruner may read of the live trial's attributes (its step,
        role, parent, seed and point)."""
        trial = self.study.ask()
        for key in PRUNER_ATTRS:
            if attrs.get(key) is not None:
                trial.set_user_attr(key, attrs[key])
        return trial

    @contextmanager
    def current(self, trial: Any) -> Iterator[None]:
        self.trial = trial
        try:
            yield
        finally:
            self.trial = None

    def report(self, epoch: int, top1: float) -> bool:
        if self.trial is None:
            return False
        self.trial.report(float(top1), int(epoch))
        return bool(self.trial.should_prune())

    def finish(self, trial: Any, accuracy: float | None) -> None:
        import optuna

        if accuracy is None:
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(trial, accuracy)

    def prune(self, trial: Any) -> None:
        import optuna

        self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)


def estimator_evaluate(
    space: Any,
    estimator: Any,
    *,
    fidelity: float | None = None,
    on_step: Callable[[Any], None] | None = None,
    on_epoch: Callable[[int, float], bool] | None = None,
) -> Evaluate:
    """``evaluate(point, repeat, attrs)`` for an estimator; seeds, progress and a pruner's ``on_epoch`` are passed
    only to estimators that take them."""

    def evaluate(point: Point, repeat: int, attrs: Mapping[str, Any] | None = None) -> Measurement:
        options: dict[str, Any] = {"repeat": repeat} if repeat else {}
        if on_step is not None and getattr(estimator, "reports_progress", False):
            options["on_step"] = on_step
        if on_epoch is not None:
            options["on_epoch"] = on_epoch
        return estimator.evaluate(space, point, fidelity, **options)

    return evaluate
