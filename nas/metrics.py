"""The numbers of a strategy comparison: best-so-far, regret, hypervolume, SEM and a paired test.

Small pure functions over plain lists, each checked against hand-computed
values in ``tests/nas/test_metrics.py``.  Accuracy is maximised and compute
(MACs) minimised throughout.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")


def best_so_far(accuracies: Sequence[float | None]) -> list[float]:
    """The best accuracy after each trained model (None: a model that failed, or was over the target)."""
    best, out = -math.inf, []
    for value in accuracies:
        if value is not None and not math.isnan(value):
            best = max(best, value)
        out.append(best if best > -math.inf else math.nan)
    return out


def regret_curve(accuracies: Sequence[float | None], optimum: float) -> list[float]:
    """``optimum`` minus the best accuracy so far, after each trained model (nan before the first success)."""
    return [optimum - b if not math.isnan(b) else math.nan for b in best_so_far(accuracies)]


def models_to_reach(accuracies: Sequence[float | None], threshold: float) -> int | None:
    """How many trained models until one reaches ``threshold`` (1-based); None if none does."""
    for index, value in enumerate(accuracies, start=1):
        if value is not None and not math.isnan(value) and value >= threshold:
            return index
    return None


def pareto(items: Iterable[T], cost: Callable[[T], float], accuracy: Callable[[T], float]) -> list[T]:
    """The items no other beats on both ``accuracy`` (higher) and ``cost`` (lower), by increasing cost.

    The one Pareto front of the toolkit: of trials (``nas report``) and of (cost, accuracy) pairs (comparisons).
    """
    front: list[T] = []
    for item in sorted(items, key=lambda i: (cost(i), -accuracy(i))):
        if not front or accuracy(item) > accuracy(front[-1]):
            front.append(item)
    return front


def pareto_points(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The (cost, accuracy) points no other beats on both, by increasing cost."""
    return [(c, a) for c, a in pareto(points, lambda p: p[0], lambda p: p[1])]


def hypervolume(points: Sequence[tuple[float, float]], reference: tuple[float, float]) -> float:
    """Area dominated by the (cost, accuracy) points and bounded by ``reference`` = (worst cost, worst accuracy).

    Points costing more than the reference, or no more accurate than it, add nothing.
    """
    ref_cost, ref_accuracy = reference
    front = [(c, a) for c, a in pareto_points(points) if c <= ref_cost and a > ref_accuracy]
    area = 0.0
    for index, (cost, accuracy) in enumerate(front):
        next_cost = front[index + 1][0] if index + 1 < len(front) else ref_cost
        area += (next_cost - cost) * (accuracy - ref_accuracy)
    return area


def mean_and_sem(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (sample standard deviation / sqrt(n)); SEM 0 for one value."""
    clean = [v for v in values if v is not None and not math.isnan(v)]
    if not clean:
        return math.nan, math.nan
    mean = sum(clean) / len(clean)
    if len(clean) == 1:
        return mean, 0.0
    variance = sum((v - mean) ** 2 for v in clean) / (len(clean) - 1)
    return mean, math.sqrt(variance / len(clean))


def wilcoxon_p(first: Sequence[float], second: Sequence[float]) -> float | None:
    """Two-sided Wilcoxon signed-rank p-value of paired samples (same seeds); None when every pair is tied."""
    from scipy.stats import wilcoxon

    if len(first) != len(second):
        raise ValueError(f"paired samples need the same length, got {len(first)} and {len(second)}")
    if all(a == b for a, b in zip(first, second)):
        return None
    return float(wilcoxon(first, second, zero_method="wilcox", alternative="two-sided").pvalue)


def holm(pvalues: dict[str, float | None]) -> dict[str, float | None]:
    """Holm's step-down adjustment of several p-values (one per comparison against the same baseline).

    The k-th smallest of m p-values is multiplied by m - k + 1, and the adjusted values are made non-decreasing in
    that order and capped at 1; a comparison that could not be tested (None) stays None and does not count in m.
    Holm controls the family-wise error rate like Bonferroni and rejects at least as much.
    """
    tested = sorted((p, name) for name, p in pvalues.items() if p is not None)
    adjusted: dict[str, float | None] = {name: None for name, p in pvalues.items() if p is None}
    running = 0.0
    for k, (p, name) in enumerate(tested):
        running = max(running, min(1.0, (len(tested) - k) * p))
        adjusted[name] = running
    return adjusted


def average_ranks(finals: dict[str, Sequence[float]]) -> dict[str, float]:
    """Each strategy's rank of its final result under every seed (1 = best; ties share the mean rank), averaged.

    ``finals[name][i]`` is the strategy's result under the i-th seed; every strategy has the same seeds.
    """
    from scipy.stats import rankdata

    names = list(finals)
    seeds = {len(values) for values in finals.values()}
    if len(seeds) != 1:
        raise ValueError(f"every strategy needs a result under every seed, got {sorted(seeds)} results")
    totals = dict.fromkeys(names, 0.0)
    count = seeds.pop()
    for seed in range(count):
        ranks = rankdata([-finals[name][seed] for name in names], method="average")
        for name, rank in zip(names, ranks):
            totals[name] += float(rank)
    return {name: totals[name] / count for name in names} if count else dict.fromkeys(names, math.nan)
