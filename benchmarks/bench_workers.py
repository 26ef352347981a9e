"""Workers: one search's wall time with 1, 2 and 4 processes here, and a simulation with 6, 12 and 24 workers.

Real part: ``nas search`` plus N-1 ``nas worker`` processes share one SQLite
ledger on this machine (each training with one thread) and run the same
coordinate search; the wall time of the whole search is compared with one
process, and every run must take the same path.  On a 2-core machine, two
processes are all the cores there are: four can only share them.

Simulated part: the search is replayed against the tabular benchmark
(``nas/tables/x3d_synth.h5``, the earlier default its figures used) with W workers, each trial taking its
stored training time.  The coordinate strategy is synchronous (a step's six
candidates, then a wait for the slowest before the next step), random
search is independent trials; the figures show how far each scales.

    python -m benchmarks.bench_workers [--quick] [--json] [--table PATH] [--simulated-only]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nas.tables import OLD_DEFAULT_TABLE_NAME, installed_table

from .harness import emit_json, machine, parse_args

DEFAULT_TABLE = str(installed_table(OLD_DEFAULT_TABLE_NAME))  # the table its committed figures used
QUICK_SEARCH = [
    "--data",
    "synth:classes=4,clips_per_class=6,frames=16,size=32,seed=3,val_fraction=0.15,test_fraction=0.15",
    "--space-option",
    "base_crop=16",
    "--space-option",
    "base_stride=16",
    "--space-option",
    "head_width=32",
    "--target-gflops",
    "0.0009",
    "--epochs",
    "0.5",
]
FULL_SEARCH = ["--target-gflops", "0.0125", "--epochs", "1"]  # the default space and data, two steps and a contraction
COMMON = ["--final-epochs", "0", "--threads", "1", "--heartbeat", "5"]


def _options(parser) -> None:
    parser.add_argument("--table", default=DEFAULT_TABLE, help="tabular benchmark of the simulation")
    parser.add_argument("--simulated-only", action="store_true", help="skip the real processes")


# -- real processes ---------------------------------------------------------------------------------
def _nas(*args: str) -> list[str]:
    return [sys.executable, "-m", "nas", *args]


def real_search(processes: int, search_args: Sequence[str], folder: str) -> dict[str, Any]:
    """Wall seconds of one search run by ``processes`` processes (1 search + the rest workers)."""
    storage = os.path.join(folder, f"workers{processes}.db")
    study = f"bench-{processes}"
    started = time.perf_counter()
    helpers = [
        subprocess.Popen(
            _nas("worker", "--storage", storage, "--study", study, "--wait", "300", *COMMON[-2:]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(processes - 1)
    ]
    done = subprocess.run(
        _nas("search", *search_args, *COMMON, "--storage", storage, "--study", study, "--json"),
        capture_output=True,
        text=True,
    )
    for helper in helpers:
        helper.wait(timeout=300)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"the search with {processes} processes failed: {done.stderr[-1500:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "processes": processes,
        "seconds": round(seconds, 1),
        "trained": summary["trained"],
        "path": [step["point"] for step in summary["path"]],
    }


def real_part(quick: bool) -> list[dict[str, Any]]:
    search_args = QUICK_SEARCH if quick else FULL_SEARCH
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as folder:
        subprocess.run(
            _nas("search", *search_args, *COMMON, "--storage", os.path.join(folder, "warm.db"), "--budget", "1"),
            capture_output=True,
            check=True,
        )  # builds the clip cache outside the timing
        rows = [real_search(n, search_args, folder) for n in (1, 2, 4)]
    for row in rows:
        row["speedup"] = round(rows[0]["seconds"] / row["seconds"], 2)
        row["same_path"] = row["path"] == rows[0]["path"]
    return rows


# -- simulated workers --------------------------------------------------------------------------------
@dataclass
class Simulated:
    workers: int
    seconds: float  # from the first start to the last finish
    trained: int
    busy: float  # summed training seconds

    @property
    def utilisation(self) -> float:
        return self.busy / (self.workers * self.seconds) if self.seconds else 0.0


def simulate(space, strategy, estimator, *, workers: int, budget: int | None) -> Simulated:
    """Replay a search with ``workers`` parallel trainers; each trial takes the estimator's simulated seconds.

    The run loop is the live search's (:class:`nas.loop.RunLoop`) over trials
    in memory on a simulated clock: idle workers ask the strategy (which sees
    running trials as taken) for a point; with nothing to propose they wait
    for the next trial to finish, as ``nas worker`` does.
    """
    from nas.loop import (
        LoopSettings,
        MemoryTrials,
        RunLoop,
        estimator_evaluate,
        trained_count,
    )

    trials = MemoryTrials(strategy.cost_of, workers=workers)
    RunLoop(strategy, estimator_evaluate(space, estimator), trials, LoopSettings(budget=budget)).run()
    trials.drain()  # a stopped search still waits for the trials its workers run
    return Simulated(workers, trials.clock.now(), trained_count(trials.done), trials.busy)


def simulated_part(table_path: str, seeds: int) -> list[dict[str, Any]]:
    from estimators.lookup import TableLookup
    from estimators.predictor import AccuracyPredictor, table_targets
    from estimators.tabular import Table
    from nas.strategies.registry import get_strategy_class
    from spaces import get_space

    table = Table(table_path)
    space = get_space(table.meta["space"], **table.meta["space_settings"])
    target = int(table.meta["target_macs"])
    predictor = AccuracyPredictor(space, random_state=0).fit(*table_targets(table, space))
    rows = []
    for name in ("coordinate", "random"):
        for workers in (1, 6, 12, 24):
            results = []
            for seed in range(seeds):
                lookup = TableLookup(table, bench_seed=seed, predictor=predictor)
                coordinate_models = simulate(
                    space,
                    get_strategy_class("coordinate")(space, target=target, seed=seed),
                    lookup,
                    workers=1,
                    budget=None,
                ).trained
                strategy = get_strategy_class(name)(space, target=target, seed=seed)
                results.append(
                    simulate(
                        space,
                        strategy,
                        lookup,
                        workers=workers,
                        budget=None if strategy.terminates else coordinate_models,
                    )
                )
            rows.append(
                {
                    "strategy": name,
                    "workers": workers,
                    "models": sum(r.trained for r in results) / seeds,
                    "hours": sum(r.seconds for r in results) / seeds / 3600,
                    "utilisation": sum(r.utilisation for r in results) / seeds,
                }
            )
    for row in rows:
        serial = next(r for r in rows if r["strategy"] == row["strategy"] and r["workers"] == 1)
        row["speedup"] = serial["hours"] / row["hours"] if row["hours"] else 0.0
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv, _options)
    figures: dict[str, Any] = {"machine": machine()}
    if not args.simulated_only:
        figures["real"] = real_part(args.quick)
        print("one coordinate search, N processes on this machine (1 training thread each, SQLite ledger):")
        for row in figures["real"]:
            print(
                f"  {row['processes']} process(es): {row['seconds']:7.1f} s  x{row['speedup']:.2f} vs 1   "
                f"{row['trained']} models, same path as 1: {row['same_path']}"
            )
    figures["simulated"] = simulated_part(args.table, 2 if args.quick else 5)
    print(f"simulated on {os.path.relpath(args.table)} (stored training times; mean over seeds):")
    for row in figures["simulated"]:
        print(
            f"  {row['strategy']:<10} {row['workers']:>2} workers: {row['hours'] * 60:7.2f} min  "
            f"x{row['speedup']:5.2f} vs 1 worker, utilisation {row['utilisation']:.0%}, {row['models']:.0f} models"
        )
    if args.json:
        for row in figures.get("real", []):
            row.pop("path")
        emit_json(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
