"""Building the tabular benchmark: real proxy trainings of a region of a space, into an HDF5 file.

The region is what the strategies move on: ladder points within the compute
target whose clips the data can serve.  The build first follows the
coordinate search itself over the table's own seed-0 results (so every point
the default ``nas search`` visits is in the table, overshooting step
included), then a seeded random order of the region, until the table holds
``points`` points, each trained once per seed.  Every finished run is
written at once, so a killed or time-limited build resumes where it stopped,
across sessions, and a larger ``points`` extends the same order.
"""

from __future__ import annotations

import time
from typing import Any

from estimators.proxy import CandidateFailed, ProxyAccuracy
from estimators.tabular import Table, TableError, add_run, create_table
from spaces import Point, SearchSpace

from .progress import SearchProgress
from .strategies.base import COMPLETE, FAILED, TrialRecord
from .strategies.coordinate import CoordinateExpansion
from .strategies.random_search import RandomSearch

#: Meta keys that must match for a rerun to add to an existing file.
IDENTITY = ("space", "space_version", "space_code", "code", "space_settings", "data", "schedule", "seeds", "target_macs",
            "region_seed", "device")


class TableBuilder:
    """Fills ``path`` with runs of ``estimators`` (one per training seed, same schedule otherwise)."""

    def __init__(self, path: str, space: SearchSpace, estimators: dict[int, ProxyAccuracy], *, target_macs: int,
                 region_seed: int = 0, meta: dict[str, Any] | None = None, progress: SearchProgress | None = None,
                 order: list[Point] | None = None) -> None:
        self.path, self.space, self.estimators = path, space, estimators
        self.order = order  # a fixed list of points instead of the coordinate-then-random order
        self.target_macs, self.region_seed = target_macs, region_seed
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

        return {"space": self.space.name, "space_version": str(self.space.version), "space_code": self.space.code_digest(),
                "code": code_digest(), "space_settings": self.space.settings(),
                "data": settings["data"], "schedule": schedule, "seeds": sorted(self.estimators),
                "target_macs": self.target_macs, "region_seed": self.region_seed, "device": settings["device"],
                "shortest_clip": self.reference.shortest_clip(),
                "toolkit_version": __version__, "torch_version": torch.__version__.split("+")[0], **self.extra_meta}

    def open(self) -> Table:
        """The file as it is (created if missing); refuses one built with other settings."""
        import json
        import os

        wanted = self.meta()
        if self.order is None:
            CoordinateExpansion(self.space, target_macs=self.target_macs)  # a target no search can use fails before a file exists
        if not os.path.exists(self.path):
            create_table(self.path, wanted)
        table = Table(self.path)
        normal = json.loads(json.dumps({k: wanted[k] for k in IDENTITY}))
        differs = [k for k in IDENTITY if table.meta.get(k) != normal[k]]
        if differs:
            raise TableError(f"{self.path} was built with other settings ({', '.join(differs)}); "
                             "use the same settings to extend it, or another --out")
        return table

    # -- the order of points --------------------------------------------------------------
    def servable(self, point: Point) -> bool:
        try:
            self.reference.check(self.space, point)
        except CandidateFailed:
            return False
        return True

    def coordinate_history(self, table: Table) -> list[TrialRecord]:
        """The table's seed-0 results as the history the coordinate strategy reads."""
        seed = min(self.estimators)
        history = []
        for entry in table.entries.values():
            run = entry.runs.get(seed)
            if run is None:
                continue
            state = FAILED if run.failed else COMPLETE
            history.append(TrialRecord(self.space.point(dict(entry.values)), state, None if run.failed else run.top1, entry.macs))
        return history

    def next_points(self, table: Table, wanted: int) -> list[Point]:
        """Points still owed a run: the coordinate search's next, then the random region's (up to ``wanted``)."""
        missing = [self.space.point(dict(e.values)) for k, e in table.entries.items() if not table.complete(k)]
        if missing:
            return missing[:1]
        if self.order is not None:
            return [p for p in self.order[:wanted] if p.key not in table.entries][:1]
        coordinate = CoordinateExpansion(self.space, target_macs=self.target_macs)
        proposals = coordinate.propose(self.coordinate_history(table), 1)
        if proposals:
            return [proposals[0].point]
        if len(table.entries) >= wanted:
            return []
        region = RandomSearch(self.space, target_macs=self.target_macs, seed=self.region_seed,
                              cost=lambda p: self.space.complexity(p).macs if self.servable(p) else self.target_macs + 1)
        known = [TrialRecord(self.space.point(dict(e.values)), COMPLETE, 0.0) for e in table.entries.values()]
        return [p.point for p in region.propose(known, 1)]

    # -- building -------------------------------------------------------------------------
    def build(self, points: int, time_limit: float | None = None) -> dict[str, Any]:
        started, runs = time.monotonic(), 0
        table = self.open()
        stopped = "done"
        while True:
            if time_limit is not None and time.monotonic() - started >= time_limit:
                stopped = "time limit"
                break
            todo = self.next_points(table, points)
            if not todo:
                break
            point = todo[0]
            done = table.entries[point.key].runs if point.key in table.entries else {}
            owed = [seed for seed in self.estimators if seed not in done]
            for number, seed in enumerate(owed):
                # For the ETA: the runs still owed, each guessed at this point's compute.
                later = max(points - len(table.entries) - 1, 0) * len(self.estimators) + len(owed) - number - 1
                runs += 1
                self._train(point, seed, len(table.entries), points, [self.space.complexity(point).macs] * later)
            table = Table(self.path)
        self.progress.close()
        return {"path": self.path, "points": len(table.entries), "runs_now": runs, "stopped": stopped,
                "seconds": round(time.monotonic() - started, 1)}

    def _train(self, point: Point, seed: int, index: int, total: int, planned_after: list[int]) -> None:
        cost = self.space.complexity(point)
        point_attrs = {"key": point.key, "axes": [a.name for a in self.space.axes], **dict(point.as_dict()),
                       "macs": cost.macs, "params": cost.params, "input_shape": list(self.space.input_shape(point))}
        label = f"point {index + 1}/{max(total, index + 1)} seed {seed} {point.key}"
        self.progress.trial_started(index + 1, max(total, index + 1), label, planned_after, cost.macs)
        started = time.monotonic()
        try:
            measurement = self.estimators[seed].evaluate(self.space, point, on_step=self.progress.on_step)
        except CandidateFailed as error:
            spent = time.monotonic() - started if error.trained else 0.0  # a diverged training did cost its time
            add_run(self.path, point_attrs, seed, {"failed": str(error), "trained": int(error.trained), "top1": float("nan"),
                                                   "train_seconds": spent}, [])
            self.progress.trial_finished(cost.macs, time.monotonic() - started, f"failed: {error}", planned_after)
            return
        info = measurement.info
        add_run(self.path, point_attrs, seed, {
            "top1": measurement.metrics["accuracy"], "val_loss": measurement.metrics["val_loss"],
            "train_seconds": measurement.seconds, "clips_per_second": info["clips_per_second"],
            "train_seed": info["train_seed"], "epochs": info["epochs"], "failed": ""}, info.get("curve", []))
        self.progress.trial_finished(cost.macs, measurement.seconds, f"top-1 {measurement.metrics['accuracy']:.3f}", planned_after)


def runs_summary(table: Table) -> dict[str, Any]:
    """Counts and spread of a table: what ``nas bench info`` prints."""
    import statistics

    runs = [r for e in table.entries.values() for r in e.runs.values()]
    good = [r for r in runs if not r.failed]
    return {"points": len(table.entries), "complete_points": sum(table.complete(k) for k in table.entries),
            "runs": len(runs), "failed_runs": len(runs) - len(good),
            "train_hours": round(sum(r.train_seconds for r in good) / 3600, 2),
            "top1_median": round(statistics.median(r.top1 for r in good), 4) if good else None,
            "top1_max": round(max((r.top1 for r in good), default=float("nan")), 4) if good else None}


def fidelity_correlation(short: Table, long: Table, space: SearchSpace) -> dict[str, Any]:
    """Rank agreement of the points both tables trained (accuracy averaged over each table's seeds)."""
    from scipy.stats import kendalltau, spearmanr

    from estimators.predictor import table_targets

    short_points, short_acc = table_targets(short, space)
    long_points, long_acc = table_targets(long, space)
    long_by_key = {p.key: a for p, a in zip(long_points, long_acc)}
    pairs = [(a, long_by_key[p.key]) for p, a in zip(short_points, short_acc) if p.key in long_by_key]
    xs, ys = zip(*pairs) if pairs else ((), ())
    if len(pairs) < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:  # too few, or a constant side: rank correlation undefined
        return {"points": len(pairs), "kendall_tau": float("nan"), "spearman_rho": float("nan")}
    return {"points": len(pairs), "kendall_tau": float(kendalltau(xs, ys).statistic),
            "spearman_rho": float(spearmanr(xs, ys).statistic)}


def seeds_argument(text: str) -> list[int]:
    from spaces.errors import NasError

    try:
        seeds = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise NasError(f"--seeds {text!r} is not a comma-separated list of whole numbers, e.g. 0,1") from None
    if not seeds or any(s < 0 for s in seeds):
        raise NasError(f"--seeds {text!r} needs at least one seed, none negative")
    return seeds


