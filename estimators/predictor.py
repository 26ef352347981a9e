"""A predictor of proxy accuracy from a point's encoding, fitted on the tabular benchmark.

It follows the scikit-learn estimator contract (``__init__`` only stores,
``fit`` validates, fitted state ends in ``_``) and wraps a scikit-learn
regressor over ``space.encode(point)`` (each axis in [0, 1], log-scaled where
the axis is) plus log-MACs.  :func:`held_out_rank_quality` says how far to
trust it: Kendall's tau and Spearman's rho between predicted and measured
accuracy on points kept out of the fit.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

from spaces import Point, SearchSpace
from spaces.errors import NasError

REGRESSORS = ("random_forest", "gradient_boosting")


class AccuracyPredictor:
    def __init__(self, space: SearchSpace, regressor: str = "random_forest", random_state: int = 0) -> None:
        self.space, self.regressor, self.random_state = space, regressor, random_state

    def features(self, points: Sequence[Point]) -> "Any":
        import numpy as np

        rows = [[*self.space.encode(p), math.log(max(self.space.complexity(p).macs, 1))] for p in points]
        return np.asarray(rows, dtype="float64")

    def _make(self) -> Any:
        from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor

        if self.regressor == "random_forest":
            return RandomForestRegressor(n_estimators=300, min_samples_leaf=2, random_state=self.random_state)
        if self.regressor == "gradient_boosting":
            return GradientBoostingRegressor(n_estimators=300, max_depth=3, learning_rate=0.05, subsample=0.8,
                                             random_state=self.random_state)
        raise NasError(f"unknown regressor {self.regressor!r}; choose one of {', '.join(REGRESSORS)}")

    def fit(self, points: Sequence[Point], accuracies: Sequence[float]) -> "AccuracyPredictor":
        if len(points) != len(accuracies):
            raise NasError(f"{len(points)} points but {len(accuracies)} accuracies")
        if len(points) < 5:
            raise NasError(f"a predictor needs at least 5 measured points, got {len(points)}")
        bad = [a for a in accuracies if not (isinstance(a, (int, float)) and math.isfinite(a))]
        if bad:
            raise NasError(f"accuracies must be finite numbers, got {bad[0]!r}")
        self.model_ = self._make().fit(self.features(points), list(accuracies))
        self.n_fitted_ = len(points)
        return self

    def predict(self, points: Sequence[Point]) -> list[float]:
        if not hasattr(self, "model_"):
            raise NasError("the predictor is not fitted; call fit() first")
        return [float(v) for v in self.model_.predict(self.features(points))]


def table_targets(table: Any, space: SearchSpace) -> tuple[list[Point], list[float]]:
    """Each table point with its accuracy averaged over the seeds that trained (failed runs left out)."""
    points, targets = [], []
    for entry in table.entries.values():
        good = [r.top1 for r in entry.runs.values() if not r.failed and math.isfinite(r.top1)]
        if good:
            points.append(space.point(dict(entry.values)))
            targets.append(sum(good) / len(good))
    return points, targets


def held_out_rank_quality(points: Sequence[Point], targets: Sequence[float], space: SearchSpace, *,
                          held_out: float = 0.25, seed: int = 0, regressor: str = "random_forest") -> dict[str, float]:
    """Fit on a seeded share of the points, and rank-correlate predictions with measurements on the rest."""
    from scipy.stats import kendalltau, spearmanr

    if not 0 < held_out < 1:
        raise NasError(f"held_out must be a fraction in (0, 1), got {held_out}")
    order = list(range(len(points)))
    random.Random(seed).shuffle(order)
    cut = max(1, round(len(order) * held_out))
    test, train = order[:cut], order[cut:]
    predictor = AccuracyPredictor(space, regressor, random_state=seed).fit([points[i] for i in train], [targets[i] for i in train])
    predicted = predictor.predict([points[i] for i in test])
    measured = [targets[i] for i in test]
    return {"kendall_tau": float(kendalltau(predicted, measured).statistic),
            "spearman_rho": float(spearmanr(predicted, measured).statistic),
            "n_train": len(train), "n_test": len(test)}
