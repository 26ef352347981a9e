"""Building the tabular benchmark: real proxy trainings of a region of a space, into an HDF5 file.

The region is what the strategies move on: ladder points within the compute
target whose clips the data can serve.  The build first follows the
coordinate search itself over the table's own results under each training
seed in turn (so every point the default ``nas search`` visits under those
seeds is in the table, overshooting step included), then a seeded random
order of the region, until the table holds ``points`` points, each trained
once per seed; with ``points`` None (``--points all``) every point of the
region, enumerated, so the table is complete.  Every finished run is
written at once, so a killed or time-limited build resumes where it stopped,
across sessions, and a larger ``points`` extends the same order.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from estimators.base import Measurement
from estimators.proxy import CandidateFailed, ProxyAccuracy
from estimators.tabular import Table, TableError, add_run, create_table
from spaces import Point, SearchSpace
from spaces.errors import NasError

from .loop import LoopSettings, RunLoop, WallClock
from .progress import SearchProgress
from .strategies.base import COMPLETE, FAILED, Proposal, TrialRecord, repeat_of
from .strategies.coordinate import CoordinateExpansion
from .strategies.random_search import RandomSearch
from .strategies.registry import get_strategy_class

#: Meta keys that must match for a rerun to add to an existing file.
IDENTITY = (
    "space",
    "space_version",
    "space_code",
    "code",
    "space_settings",
    "data",
    "schedule",
    "seeds",
    "target_macs",
    "region_seed",
    "device",
)


class TableBuilder:
    """Fills ``path`` with runs of ``estimators`` (one per training seed, same schedule otherwise)."""

    def __init__(
        self,
        path: str,
        space: SearchSpace,
        estimators: dict[int, ProxyAccuracy],
        *,
        target: int,
        region_seed: int = 0,
        meta: dict[str, Any] | None = None,
        progress: SearchProgress | None = None,
        order: list[Point] | None = None,
        compare_seeds: int = 0,
        follow: Sequence[str] = ("coordinate",),
    ) -> None:
        self.path, self.space, self.estimators = path, space, estimators
        self.compare_seeds = compare_seeds  # also follow the searches as nas bench compare's seeds see the table
        self.follow = check_followed(follow)
        self.order = order  # a fixed list of points instead of the coordinate-then-random order
        self.target, self.region_seed = target, region_seed
        self.extra_meta = meta or {}
        self.progress = progress or SearchProgress()
        self.reference = estimators[min(estimators)]

    # -- identity ---------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        import torch

        from spaces._version import __version__

        settings = self.reference.settings()
        schedule = {k: v for k, v in settings["schedule"].items() if k != "seed"}
        from spaces.code_digest import code_digest

        return {
            "space": self.space.name,
            "space_version": str(self.space.version),
            "space_code": self.space.code_digest(),
            "code": code_digest(),
            "space_settings": self.space.settings(),
            "data": settings["data"],
            "schedule": schedule,
            "seeds": sorted(self.estimators),
            "target_macs": self.target,
            "region_seed": self.region_seed,
            "device": settings["device"],
            "shortest_clip": self.reference.shortest_clip(),
            "toolkit_version": __version__,
            "torch_version": torch.__version__.split("+")[0],
            **self.extra_meta,
        }

    def open(self) -> Table:
        """The file as it is (created if missing); refuses one built with other settings."""
        import json
        import os

        wanted = self.meta()
        if self.order is None:
            CoordinateExpansion(self.space, target=self.target)  # a target no search can use fails before a file exists
        if not os.path.exists(self.path):
            create_table(self.path, wanted)
        table = Table(self.path)
        normal = json.loads(json.dumps({k: wanted[k] for k in IDENTITY}))
        differs = [k for k in IDENTITY if table.meta.get(k) != normal[k]]
        if differs:
            raise TableError(
                f"{self.path} was built with other settings ({', '.join(differs)}); "
                "use the same settings to extend it, or another --out"
            )
        return table

    # -- the order of points --------------------------------------------------------------
    def servable(self, point: Point) -> bool:
        try:
            self.reference.check(self.space, point)
        except CandidateFailed:
            return False
        return True

    def coordinate_history(self, table: Table, seed_index: int = 0) -> list[TrialRecord]:
        """The table's results under one training seed (by index: 0 is seed 0) as the history the coordinate
        strategy reads."""
        records = TableTrials(self.path, self.space, sorted(self.estimators)).records(table)
        return [r for r in records if repeat_of(r) == seed_index]

    def region_points(self) -> list[Point]:
        """Every ladder point within the target that the data can serve, in the region seed's shuffled order.

        Enumerated over the space's whole ladder grid, so a complete table is complete by construction (random
        draws would miss the last few points of a small region).
        """
        import random

        cost = self.space.complexity
        points = [p for p in self.space.grid() if cost(p).macs <= self.target and self.servable(p)]
        random.Random(self.region_seed).shuffle(points)
        return points

    # -- building -------------------------------------------------------------------------
    def build(self, points: int | None, time_limit: float | None = None) -> dict[str, Any]:
        """Train until the table holds ``points`` points (the coordinate paths first), each under every seed; None:
        every point of the region."""
        self.open()
        seeds = sorted(self.estimators)
        trials = TableTrials(self.path, self.space, seeds)
        order = BuildOrder(self, points)

        def evaluate(point: Point, repeat: int, attrs: Mapping[str, Any]) -> Measurement:
            return self.estimators[seeds[repeat]].evaluate(self.space, point, on_step=self.progress.on_step)

        loop = RunLoop(
            order,
            evaluate,
            trials,
            LoopSettings(time_limit=time_limit, repeats=len(seeds), every_seed=True),
            progress=self.progress,
            view=lambda runs: runs,
            label=lambda proposal: proposal.point.key,
        )
        started = time.monotonic()
        stopped = loop.run()
        self.progress.close()
        return {
            "path": self.path,
            "points": len(Table(self.path).entries),
            "runs_now": loop.trained_now,
            "stopped": "done" if stopped == "finished" else stopped,
            "seconds": round(time.monotonic() - started, 1),
        }


class BuildOrder:
    """The build's order as a strategy for the run loop: the coordinate search over each seed, then the region.

    With a fixed ``order`` (a fidelity sample) it is that list instead.  It
    sees every run (all seeds); the run loop trains a point's owed seeds
    before anything new, so a point is complete before the next one starts.
    """

    name = "table-build"
    terminates = True

    def __init__(self, builder: TableBuilder, points: int | None) -> None:
        self.builder, self.points, self.space = builder, points, builder.space
        self._whole_region: list[Point] | None = None  # every point of the region (points None), enumerated once
        # Built once: the region's seeded sequence (and its servability checks) is drawn once, not every round.
        self.followed = [get_strategy_class(name)(self.space, target=builder.target) for name in builder.follow]
        self.region = RandomSearch(
            self.space,
            target=builder.target,
            seed=builder.region_seed,
            cost=lambda p: self.cost(p) if builder.servable(p) else builder.target + 1,
        )

    def cost(self, point: Point) -> int:
        return self.space.complexity(point).macs

    def is_finished(self, history: Sequence[TrialRecord]) -> bool:
        return self.next_point(history) is None

    def propose(self, history: Sequence[TrialRecord], n: int = 1) -> list[Proposal]:
        point = self.next_point(history)
        return [] if point is None else [Proposal(point)]

    def planned_costs(self, history: Sequence[TrialRecord]) -> list[int]:
        """For the ETA: the runs still owed, each guessed at the next point's compute."""
        point = self.next_point(history)
        if point is None:
            return []
        points = len(self.whole_region()) if self.points is None else self.points
        left = max(points * len(self.builder.estimators) - len(history), len(self.builder.estimators))
        return [self.cost(point)] * left

    def coordinate_views(self, history: Sequence[TrialRecord]) -> Iterator[list[TrialRecord]]:
        """The histories the followed searches (the coordinate search by default) are followed over: each training
        seed's runs, then for each of the first ``compare_seeds`` benchmark seeds the runs ``nas bench compare``
        draws under it (one seed per point, :func:`estimators.lookup.drawn_seed`), so their comparison runs are
        answered by the table."""
        from estimators.lookup import drawn_seed

        seeds = sorted(self.builder.estimators)
        for seed_index in range(len(seeds)):
            yield [r for r in history if repeat_of(r) == seed_index]
        held: dict[Point, list[int]] = {}  # the training seeds each point's entry holds (what compare draws among)
        for record in history:
            held.setdefault(record.point, []).append(seeds[repeat_of(record)])
        for bench_seed in range(self.builder.compare_seeds):
            yield [r for r in history if seeds[repeat_of(r)] == drawn_seed(bench_seed, r.point.key, held[r.point])]

    def whole_region(self) -> list[Point]:
        """Every point of the region, in the build's order (enumerated on first use: a complete build only)."""
        if self._whole_region is None:
            self._whole_region = self.builder.region_points()
        return self._whole_region

    def next_point(self, history: Sequence[TrialRecord]) -> Point | None:
        """The coordinate search's next point under each seed in turn, then the region's, until the table holds
        ``points`` (None: until every point of the region is in it)."""
        builder = self.builder
        known = list(dict.fromkeys(r.point for r in history))
        if builder.order is not None:
            return next((p for p in builder.order[: self.points] if p not in known), None)
        for view in self.coordinate_views(history):
            for strategy in self.followed:
                proposals = strategy.propose(view, 1)
                if proposals:
                    return proposals[0].point
        if self.points is None:
            taken = set(known)
            return next((p for p in self.whole_region() if p not in taken), None)
        if len(known) >= self.points:
            return None
        proposals = self.region.propose([TrialRecord(p, COMPLETE, 0.0) for p in known], 1)
        return proposals[0].point if proposals else None


#: Searches a build can follow: deterministic ones that end, whose every point then lies in the table.
FOLLOWABLE = ("coordinate", "compound")


def check_followed(names: Sequence[str]) -> tuple[str, ...]:
    """``names`` if every one is a search a build can follow, else one line naming those it can."""
    names = tuple(dict.fromkeys(names))
    unknown = [name for name in names if name not in FOLLOWABLE]
    if unknown:
        raise NasError(
            f"a table build cannot follow {', '.join(map(repr, unknown))}: only the deterministic "
            f"searches that end ({', '.join(FOLLOWABLE)}) lay a path it can train ahead of the region"
        )
    return names


class TableTrials:
    """The run loop's trials in the table file: one run per (point, seed), each written whole as it ends.

    One process builds a table, so nothing is claimed and nothing waits; a
    killed build leaves the last complete file, and its runs are read back
    on the next start.
    """

    def __init__(self, path: str, space: SearchSpace, seeds: list[int]) -> None:
        self.path, self.space, self.seeds = path, space, seeds
        self.clock = WallClock()

    def records(self, table: Table) -> list[TrialRecord]:
        """Each stored run as a trial: ``repeat`` is the index of its seed."""
        records = []
        for entry in table.entries.values():
            point = self.space.point(dict(entry.values))
            for seed, run in entry.runs.items():
                if seed in self.seeds:
                    state, accuracy = (FAILED, None) if run.failed else (COMPLETE, run.top1)
                    records.append(TrialRecord(point, state, accuracy, entry.macs, {"repeat": self.seeds.index(seed)}))
        return records

    def runs(self) -> list[TrialRecord]:
        return self.records(Table(self.path))

    def free_slot(self, runs: list[TrialRecord]) -> bool:
        return True

    def others_pending(self) -> bool:
        return False

    def wait(self, waits: int) -> None:  # never called: nothing else runs
        return None

    def lost_race(self) -> None:
        return None

    def start(self, point: Point, attrs: dict[str, Any], repeat: int, budget: int | None) -> dict[str, Any]:
        cost = self.space.complexity(point)
        point_attrs = {
            "key": point.key,
            "axes": [a.name for a in self.space.axes],
            **dict(point.as_dict()),
            "macs": cost.macs,
            "params": cost.params,
            "input_shape": list(self.space.input_shape(point)),
        }
        return {"point": point, "point_attrs": point_attrs, "seed": self.seeds[repeat], "repeat": repeat}

    def evaluating(self, handle: Any) -> Any:
        return nullcontext()

    def finish(self, handle: dict[str, Any], measurement: Measurement) -> bool:
        info = measurement.info
        add_run(
            self.path,
            handle["point_attrs"],
            handle["seed"],
            {
                "top1": measurement.metrics["accuracy"],
                "val_loss": measurement.metrics["val_loss"],
                "train_seconds": measurement.seconds,
                "clips_per_second": info["clips_per_second"],
                "train_seed": info["train_seed"],
                "epochs": info["epochs"],
                "failed": "",
            },
            info.get("curve", []),
        )
        handle["record"] = TrialRecord(
            handle["point"],
            COMPLETE,
            measurement.metrics["accuracy"],
            handle["point_attrs"]["macs"],
            {"repeat": handle["repeat"]},
        )
        return True

    def fail(self, handle: dict[str, Any], error: CandidateFailed, seconds: float) -> None:
        # a diverged training did cost its time; a point the data cannot serve costs none
        add_run(
            self.path,
            handle["point_attrs"],
            handle["seed"],
            {"failed": str(error), "trained": int(error.trained), "top1": float("nan"), "train_seconds": seconds},
            [],
        )
        handle["record"] = TrialRecord(
            handle["point"],
            FAILED,
            None,
            handle["point_attrs"]["macs"],
            {"repeat": handle["repeat"], "trained": error.trained},
        )

    def prune(self, handle: Any, pruned: Any) -> None:
        raise NasError("a table build trains every run to its end; nothing prunes it")  # no pruner is ever given

    def interrupt(self, handle: Any, error: BaseException) -> None:
        return None  # nothing was written: the run is trained again on the next start

    def record(self, handle: dict[str, Any]) -> TrialRecord:
        return handle["record"]


@dataclass
class BuildConfig:
    """What ``nas bench build`` (and :func:`nas.build_table`) is asked: defaults are nas search's for the space."""

    out: str
    points: int | None = 150  # None: every point of the region (a complete table)
    compare_seeds: int = 0  # also follow the searches as nas bench compare --seeds N will see the table
    follow: str = "coordinate"  # the searches whose paths are trained first, comma-separated
    seeds: str | list[int] = "0,1"
    space: str = "x3d"
    data: str | None = None
    target_gflops: float | None = None
    epochs: float | None = None
    region_seed: int = 0
    time_limit: str | float | None = None
    threads: int = 2
    device: str = "auto"
    space_options: dict[str, Any] = field(default_factory=dict)
    command: str | None = None


def build_table(config: BuildConfig, progress: SearchProgress | None = None) -> dict[str, Any]:
    """Train the region into ``config.out`` (resumable); every setting is checked before data or the file is made."""
    from estimators.proxy import ProxySchedule, resolve_device
    from spaces import get_space

    from .engine import open_data, plan_data, proxy_defaults, proxy_schedule
    from .values import parse_duration

    seeds = config.seeds if isinstance(config.seeds, list) else seeds_argument(config.seeds)
    follow = check_followed([name.strip() for name in config.follow.split(",") if name.strip()])
    if config.points is not None and config.points < 1:
        raise NasError(f"--points must be at least 1, got {config.points} (or all: every point of the region)")
    defaults = proxy_defaults(config.space)
    target = config.target_gflops if config.target_gflops is not None else defaults.get("target_gflops")
    if target is None or not target > 0:
        raise NasError(f"give a positive --target-gflops for space {config.space!r} (got {target})")
    schedule = proxy_schedule(defaults, config.epochs, None)
    time_limit = config.time_limit if isinstance(config.time_limit, float | int) else parse_duration(config.time_limit)
    existing, synth_settings, classes = plan_data(config.data or defaults["data"])
    space = get_space(config.space, **{**defaults.get("space", {}), **config.space_options, "num_classes": classes})
    CoordinateExpansion(space, target=round(target * 1e9))  # a target no search can use fails before any data is built
    device = resolve_device(config.device)
    cache = open_data(existing, synth_settings)
    estimators = {
        seed: ProxyAccuracy(
            cache, ProxySchedule(**schedule, seed=seed, threads=config.threads, curve=True), device=device
        )
        for seed in seeds
    }
    builder = TableBuilder(
        config.out,
        space,
        estimators,
        target=round(target * 1e9),
        region_seed=config.region_seed,
        meta={"command": config.command or "nas bench build", "epochs": schedule["epochs"]},
        progress=progress or SearchProgress(),
        compare_seeds=config.compare_seeds,
        follow=follow,
    )
    return builder.build(config.points, time_limit)


def runs_summary(table: Table) -> dict[str, Any]:
    """Counts and spread of a table: what ``nas bench info`` prints."""
    import statistics

    runs = [r for e in table.entries.values() for r in e.runs.values()]
    good = [r for r in runs if not r.failed]
    return {
        "points": len(table.entries),
        "complete_points": sum(table.complete(k) for k in table.entries),
        "runs": len(runs),
        "failed_runs": len(runs) - len(good),
        "train_hours": round(sum(r.train_seconds for r in good) / 3600, 2),
        "top1_median": round(statistics.median(r.top1 for r in good), 4) if good else None,
        "top1_max": round(max((r.top1 for r in good), default=float("nan")), 4) if good else None,
    }


def fidelity_correlation(short: Table, long: Table, space: SearchSpace) -> dict[str, Any]:
    """Rank agreement of the points both tables trained (accuracy averaged over each table's seeds)."""
    from scipy.stats import kendalltau, spearmanr

    from estimators.predictor import table_targets

    short_points, short_acc = table_targets(short, space)
    long_points, long_acc = table_targets(long, space)
    long_by_key = {p.key: a for p, a in zip(long_points, long_acc)}
    pairs = [(a, long_by_key[p.key]) for p, a in zip(short_points, short_acc) if p.key in long_by_key]
    xs, ys = zip(*pairs) if pairs else ((), ())
    if (
        len(pairs) < 3 or len(set(xs)) < 2 or len(set(ys)) < 2
    ):  # too few, or a constant side: rank correlation undefined
        return {"points": len(pairs), "kendall_tau": float("nan"), "spearman_rho": float("nan")}
    return {
        "points": len(pairs),
        "kendall_tau": float(kendalltau(xs, ys).statistic),
        "spearman_rho": float(spearmanr(xs, ys).statistic),
    }


def seeds_argument(text: str) -> list[int]:
    try:
        seeds = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise NasError(f"--seeds {text!r} is not a comma-separated list of whole numbers, e.g. 0,1") from None
    if not seeds or any(s < 0 for s in seeds):
        raise NasError(f"--seeds {text!r} needs at least one seed, none negative")
    return seeds
