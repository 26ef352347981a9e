"""Answering from the tabular benchmark instead of training: the estimator strategy comparisons run on.

Each benchmark seed draws, per point, one of the training seeds the table
holds (a hash of the benchmark seed and the point), so repeated runs of a
deterministic strategy differ as real runs would.  The training time is
simulated: the stored seconds of that run.  A point the table lacks is
answered by a fitted predictor (and a fitted seconds-per-MAC model) when one
is given, and otherwise fails like a point the data cannot serve.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Any

from spaces import Point, SearchSpace

from .base import Estimator, Measurement, fingerprint_of
from .proxy import CandidateFailed, CandidatePruned
from .tabular import Run, Table


def drawn_seed(bench_seed: int, key: str, seeds: list[int]) -> int:
    """The training seed whose run of the point ``key`` answers under ``bench_seed``: a hash of both, so the same
    in every process (the table build follows the coordinate search under these draws too)."""
    digest = hashlib.sha256(f"{bench_seed}:{key}".encode()).digest()
    return sorted(seeds)[int.from_bytes(digest[:4], "little") % len(seeds)]


class TableLookup(Estimator):
    name = "table"

    def __init__(self, table: Table, *, bench_seed: int = 0, predictor: Any = None) -> None:
        self.table, self.bench_seed, self.predictor = table, bench_seed, predictor
        self._seconds_per_mac = self._fit_seconds()

    def _fit_seconds(self) -> tuple[float, float]:
        """Least squares seconds = a + b * MACs over the table's runs (for points answered by the predictor)."""
        pairs = [
            (e.macs, r.train_seconds) for e in self.table.entries.values() for r in e.runs.values() if not r.failed
        ]
        if len(pairs) < 2:
            return (pairs[0][1] if pairs else 0.0), 0.0
        n = len(pairs)
        mean_x, mean_y = sum(x for x, _ in pairs) / n, sum(y for _, y in pairs) / n
        spread = sum((x - mean_x) ** 2 for x, _ in pairs)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in pairs) / spread if spread else 0.0
        return mean_y - slope * mean_x, slope

    @property
    def epochs(self) -> float | None:
        """The proxy epochs the table's runs trained (what a pruner's rungs are sized to)."""
        schedule = self.table.meta.get("schedule") or {}
        return float(schedule["epochs"]) if isinstance(schedule, dict) and "epochs" in schedule else None

    @property
    def has_curves(self) -> bool:
        """Whether the table's runs stored per-epoch top-1s (what pruning is simulated on)."""
        return any(
            len(run.curve.get("val_top1", [])) > 1
            for entry in self.table.entries.values()
            for run in entry.runs.values()
        )

    def fingerprint(self, fidelity: float | None = None) -> str:
        return fingerprint_of(
            "table-lookup",
            {
                "table": {k: self.table.meta.get(k) for k in ("space", "data", "schedule", "seeds")},
                "points": len(self.table.entries),
                "bench_seed": self.bench_seed,
                "predictor": type(self.predictor).__name__ if self.predictor else None,
                "fidelity": fidelity,
            },
        )

    def seed_for(self, point: Point, seeds: list[int]) -> int:
        return drawn_seed(self.bench_seed, point.key, seeds)

    def evaluate(
        self,
        space: SearchSpace,
        point: Point,
        fidelity: float | None = None,
        on_epoch: Callable[[int, float], bool] | None = None,
    ) -> Measurement:
        """The table's run of ``point`` under this benchmark seed (or the predictor's answer).

        ``on_epoch(epoch, top1)`` is called with the stored learning curve, epoch by epoch, as a live training
        calls it; where it says stop, :class:`CandidatePruned` costs the seconds stored up to that epoch.  A point
        the predictor answers has no curve and is never pruned.
        """
        spec = space.clip_spec(point)
        shortest = self.table.meta.get("shortest_clip")
        if shortest is not None and (spec.frames - 1) * spec.stride + 1 > int(shortest):
            raise CandidateFailed(
                f"{spec.frames} frames at stride {spec.stride} exceed the data's {shortest}-frame clips", trained=False
            )
        entry = self.table.entries.get(point.key)
        if entry is not None and entry.runs:
            seed = self.seed_for(point, list(entry.runs))
            run = entry.runs[seed]
            if run.failed:
                raise CandidateFailed(run.failed, trained=bool(run.attrs.get("trained", True)))
            accuracy = run.top1
            curve = run.curve.get("val_top1", [])
            if fidelity is not None and curve:
                accuracy = curve[min(len(curve), max(1, math.ceil(fidelity))) - 1]
            if on_epoch is not None:
                _replay_curve(run, on_epoch, {"source": "table", "table_seed": seed})
            return Measurement(
                point,
                {"accuracy": accuracy},
                fidelity=fidelity,
                seconds=run.train_seconds,
                info={"source": "table", "table_seed": seed},
            )
        if self.predictor is None:
            raise CandidateFailed(f"{point.key} is not in the benchmark table", trained=False)
        intercept, slope = self._seconds_per_mac
        macs = space.complexity(point).macs
        (accuracy,) = self.predictor.predict([point])
        return Measurement(
            point,
            {"accuracy": accuracy},
            fidelity=fidelity,
            seconds=max(0.0, intercept + slope * macs),
            info={"source": "predictor"},
        )


def _replay_curve(run: Run, on_epoch: Callable[[int, float], bool], info: dict[str, Any]) -> None:
    """Report a stored run's per-epoch top-1 to ``on_epoch`` (not the last epoch: the run then ends anyway)."""
    curve, seconds = run.curve.get("val_top1", []), run.curve.get("seconds", [])
    for epoch, top1 in enumerate(curve[:-1], start=1):
        if not math.isfinite(top1):  # an epoch the build did not score: nothing to report
            continue
        if on_epoch(epoch, float(top1)):
            stored = float(seconds[epoch - 1]) if len(seconds) >= epoch else math.nan
            spent = stored if math.isfinite(stored) else run.train_seconds * epoch / len(curve)
            raise CandidatePruned(epoch, float(top1), spent, info)
