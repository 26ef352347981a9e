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
from typing import Any

from spaces import Point, SearchSpace

from .base import Estimator, Measurement, fingerprint_of
from .proxy import CandidateFailed
from .tabular import Table


class TableLookup(Estimator):
    name = "table"

    def __init__(self, table: Table, *, bench_seed: int = 0, predictor: Any = None) -> None:
        self.table, self.bench_seed, self.predictor = table, bench_seed, predictor
        self._seconds_per_mac = self._fit_seconds()

    def _fit_seconds(self) -> tuple[float, float]:
        """Least squares seconds = a + b * MACs over the table's runs (for points answered by the predictor)."""
        pairs = [(e.macs, r.train_seconds) for e in self.table.entries.values() for r in e.runs.values() if not r.failed]
        if len(pairs) < 2:
            return (pairs[0][1] if pairs else 0.0), 0.0
        n = len(pairs)
        mean_x, mean_y = sum(x for x, _ in pairs) / n, sum(y for _, y in pairs) / n
        spread = sum((x - mean_x) ** 2 for x, _ in pairs)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in pairs) / spread if spread else 0.0
        return mean_y - slope * mean_x, slope

    def fingerprint(self, fidelity: float | None = None) -> str:
        return fingerprint_of("table-lookup", {"table": {k: self.table.meta.get(k) for k in ("space", "data", "schedule", "seeds")},
                                               "points": len(self.table.entries), "bench_seed": self.bench_seed,
                                               "predictor": type(self.predictor).__name__ if self.predictor else None,
                                               "fidelity": fidelity})

    def seed_for(self, point: Point, seeds: list[int]) -> int:
        digest = hashlib.sha256(f"{self.bench_seed}:{point.key}".encode()).digest()
        return sorted(seeds)[int.from_bytes(digest[:4], "little") % len(seeds)]

    def evaluate(self, space: SearchSpace, point: Point, fidelity: float | None = None) -> Measurement:
        spec = space.clip_spec(point)
        shortest = self.table.meta.get("shortest_clip")
        if shortest is not None and (spec.frames - 1) * spec.stride + 1 > int(shortest):
            raise CandidateFailed(f"{spec.frames} frames at stride {spec.stride} exceed the data's {shortest}-frame clips",
                                  trained=False)
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
            return Measurement(point, {"accuracy": accuracy}, fidelity=fidelity, seconds=run.train_seconds,
                               info={"source": "table", "table_seed": seed})
        if self.predictor is None:
            raise CandidateFailed(f"{point.key} is not in the benchmark table", trained=False)
        intercept, slope = self._seconds_per_mac
        macs = space.complexity(point).macs
        (accuracy,) = self.predictor.predict([point])
        return Measurement(point, {"accuracy": accuracy}, fidelity=fidelity, seconds=max(0.0, intercept + slope * macs),
                           info={"source": "predictor"})
