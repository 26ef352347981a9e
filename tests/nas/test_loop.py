"""The one run loop: the same decisions over the ledger, in memory and on a simulated clock."""

from __future__ import annotations

import pytest

from estimators.base import Estimator, Measurement, fingerprint_of
from estimators.proxy import CandidateFailed
from nas.comparison import run_strategy
from nas.ledger import Ledger
from nas.loop import (
    LoopSettings,
    MemoryTrials,
    RunLoop,
    StrategyStalled,
    estimator_evaluate,
)
from nas.progress import SearchProgress
from nas.runner import SearchRunner
from nas.storage import storage_url
from nas.strategies.base import Proposal, TrialRecord
from nas.strategies.registry import get_strategy_class, list_strategies
from tests.nas.test_coordinate import SPACE, TARGET, objective


class TimedObjective(Estimator):
    """A closed-form accuracy; each training 'takes' ``seconds_per_gmac`` per GMAC (+1 s), reported, not slept."""

    name = "timed-objective"

    def __init__(self, failing=()) -> None:
        self.calls: list = []
        self.failing = set(failing)

    def fingerprint(self, fidelity=None) -> str:
        return fingerprint_of(self.name, {"fidelity": fidelity})

    def evaluate(self, space, point, fidelity=None, repeat: int = 0) -> Measurement:
        self.calls.append(point)
        if point in self.failing:
            raise CandidateFailed("made to diverge")
        seconds = 1.0 + space.complexity(point).macs / 1e6
        return Measurement(point, {"accuracy": objective(point) / 20}, fidelity=fidelity, seconds=seconds)


@pytest.mark.parametrize("name", ["coordinate", "random", "evolution"])
def test_the_ledger_and_memory_trials_train_the_same_points_in_the_same_order(tmp_path, name):
    budget = 12
    live, simulated = TimedObjective(), TimedObjective()
    ledger = Ledger(storage_url(str(tmp_path / "ledger.db")), "s", SPACE)
    ledger.open({"test": 1})
    strategy = get_strategy_class(name)(SPACE, target=TARGET, seed=3)
    SearchRunner(SPACE, strategy, live, ledger, budget=budget, progress=SearchProgress(bars=False)).run()
    run = run_strategy(SPACE, name, 3, simulated, target=TARGET, budget=budget)
    assert live.calls == simulated.calls == run.points and len(run.points) <= budget
    assert [r.accuracy for r in ledger.records()] == run.accuracies


def test_the_simulated_clock_runs_workers_in_parallel_and_the_time_limit_reads_it():
    def simulate(workers: int, time_limit: float | None = None) -> tuple[str, MemoryTrials]:
        strategy = get_strategy_class("random")(SPACE, target=TARGET, seed=0)
        trials = MemoryTrials(strategy.cost_of, workers=workers)
        loop = RunLoop(
            strategy, estimator_evaluate(SPACE, TimedObjective()), trials, LoopSettings(budget=8, time_limit=time_limit)
        )
        stopped = loop.run()
        trials.drain()
        return stopped, trials

    stopped, serial = simulate(1)
    _, parallel = simulate(4)
    assert stopped == "budget" and len(serial.done) == len(parallel.done) == 8
    assert serial.clock.now() == pytest.approx(serial.busy)  # one worker: trials end to end
    assert parallel.clock.now() < serial.clock.now() and parallel.busy == pytest.approx(serial.busy)
    assert [r.point for r in parallel.done] != [] and parallel.clock.now() >= serial.busy / 4
    limit = serial.busy / 2
    stopped, limited = simulate(1, time_limit=limit)
    assert stopped == "time limit" and 0 < len(limited.done) < 8
    assert limited.clock.now() - limited.done[-1].attrs["seconds"] < limit <= limited.clock.now()


class Stuck:
    """A strategy that is never finished and never proposes: the loop must call it a bug, not spin."""

    name, terminates = "stuck", False

    def cost(self, point):
        return 1

    def is_finished(self, history):
        return False

    def propose(self, history, n=1):
        return []

    def planned_costs(self, history):
        return []


def test_a_strategy_that_proposes_nothing_while_nothing_runs_is_a_bug():
    with pytest.raises(StrategyStalled, match="proposed nothing but is not finished"):
        RunLoop(Stuck(), estimator_evaluate(SPACE, TimedObjective()), MemoryTrials(lambda p: 1)).run()


class Fixed:
    """Proposes a fixed list of points, one at a time."""

    name, terminates = "fixed", True

    def __init__(self, points) -> None:
        self.points = points

    def cost(self, point):
        return SPACE.complexity(point).macs

    def _left(self, history):
        seen = {r.point for r in history}
        return [p for p in self.points if p not in seen]

    def is_finished(self, history):
        return not self._left(history)

    def propose(self, history, n=1):
        return [Proposal(p) for p in self._left(history)[:n]]

    def planned_costs(self, history):
        return [self.cost(p) for p in self._left(history)]


def test_every_seed_keeps_a_failed_points_other_seeds_owed_and_the_default_does_not():
    points = [SPACE.base]
    for every_seed, expected in ((False, 1), (True, 3)):
        estimator = TimedObjective(failing={SPACE.base})
        trials = MemoryTrials(lambda p: 1)
        RunLoop(
            Fixed(points),
            estimator_evaluate(SPACE, estimator),
            trials,
            LoopSettings(repeats=3, every_seed=every_seed),
            view=lambda runs: runs,
        ).run()
        assert estimator.calls.count(SPACE.base) == expected
        assert all(isinstance(r, TrialRecord) for r in trials.done)


@pytest.mark.parametrize("name", list_strategies())
def test_exactly_the_worker_invariant_strategies_take_the_single_process_path_under_four_workers(name):
    """Four simulated workers sharing the history (running trials taken) against one process, seeds 0 and 1."""

    def simulate(workers: int, seed: int) -> tuple[set, object]:
        strategy = get_strategy_class(name)(SPACE, target=TARGET, seed=seed)
        trials = MemoryTrials(strategy.cost_of, workers=workers)
        RunLoop(
            strategy,
            estimator_evaluate(SPACE, TimedObjective()),
            trials,
            LoopSettings(budget=None if strategy.terminates else 20),
        ).run()
        trials.drain()
        return {r.point for r in trials.done}, strategy.chosen(trials.done)

    same = [simulate(1, seed) == simulate(4, seed) for seed in (0, 1)]
    if get_strategy_class(name).worker_invariant:
        assert all(same), f"{name} declares worker_invariant but took another path under 4 workers"
    else:
        assert not all(same), f"{name} takes the single-process path under 4 workers: declare it worker_invariant"
