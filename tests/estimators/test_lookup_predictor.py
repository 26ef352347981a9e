"""The lookup estimator and the predictor on a small generated table (known accuracies, no training)."""

from __future__ import annotations

import random

import pytest

from estimators.lookup import TableLookup
from estimators.predictor import FEATURES, REGRESSORS, AccuracyPredictor, held_out_rank_quality, table_targets
from estimators.proxy import CandidateFailed
from estimators.tabular import Table, add_run, create_table
from spaces import NasError, get_space

SPACE = get_space("x3d")


def truth(point) -> float:
    return 0.1 + 0.1 * sum(SPACE.encode(point))


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("table") / "t.h5"
    create_table(path, {"space": "x3d", "seeds": [0, 1], "shortest_clip": 64})
    rng = random.Random(0)
    points = []
    while len(points) < 40:
        point = SPACE.sample(rng, on_ladder=True)
        if point not in points and (SPACE.clip_spec(point).frames - 1) * SPACE.clip_spec(point).stride < 64:
            points.append(point)
    for index, point in enumerate(points):
        cost = SPACE.complexity(point)
        attrs = {
            "key": point.key,
            "axes": [a.name for a in SPACE.axes],
            **point.as_dict(),
            "macs": cost.macs,
            "params": cost.params,
        }
        for seed in (0, 1):
            top1 = truth(point) + (0.01 if seed else -0.01)
            failed = "diverged" if index == 0 and seed == 1 else ""
            add_run(
                path,
                attrs,
                seed,
                {"top1": top1, "train_seconds": 10.0 + index + seed, "failed": failed},
                [{"epoch": 1, "val_top1": top1 / 2}, {"epoch": 2, "val_top1": top1}],
            )
    return Table(path)


def test_the_lookup_answers_a_stored_run_with_its_time(table):
    entry = list(table.entries.values())[5]
    point = SPACE.point(dict(entry.values))
    lookup = TableLookup(table, bench_seed=0)
    measured = lookup.evaluate(SPACE, point)
    seed = measured.info["table_seed"]
    assert measured.metrics["accuracy"] == entry.runs[seed].top1 and measured.seconds == entry.runs[seed].train_seconds
    assert lookup.evaluate(SPACE, point).metrics == measured.metrics  # deterministic per benchmark seed
    assert lookup.evaluate(SPACE, point, fidelity=1).metrics["accuracy"] == entry.runs[seed].top1 / 2  # the curve


def test_benchmark_seeds_draw_different_training_seeds(table):
    points = [SPACE.point(dict(e.values)) for e in table.entries.values()]
    draws = {s: [TableLookup(table, bench_seed=s).seed_for(p, [0, 1]) for p in points] for s in range(2)}
    assert draws[0] != draws[1] and {0, 1} <= set(draws[0])


def test_a_failed_run_fails_and_a_missing_point_needs_the_predictor(table):
    first = SPACE.point(dict(next(iter(table.entries.values())).values))  # the first added: its seed 1 diverged
    seeds = {TableLookup(table, bench_seed=s).seed_for(first, [0, 1]): s for s in range(20)}
    with pytest.raises(CandidateFailed, match="diverged"):
        TableLookup(table, bench_seed=seeds[1]).evaluate(SPACE, first)
    missing = SPACE.point(frames=1, stride=1, crop=16, width=0.5, bottleneck=1, depth=1)
    assert missing.key not in table.entries
    with pytest.raises(CandidateFailed, match="not in the benchmark table") as failure:
        TableLookup(table).evaluate(SPACE, missing)
    assert failure.value.trained is False
    points, targets = table_targets(table, SPACE)
    predictor = AccuracyPredictor(SPACE).fit(points, targets)
    answer = TableLookup(table, predictor=predictor).evaluate(SPACE, missing)
    assert answer.info["source"] == "predictor" and 0 < answer.metrics["accuracy"] < 1 and answer.seconds >= 0


def test_clips_longer_than_the_data_fail_for_free(table):
    with pytest.raises(CandidateFailed, match="exceed") as failure:
        TableLookup(table).evaluate(SPACE, SPACE.point(frames=16, stride=8))
    assert failure.value.trained is False


def test_the_predictor_ranks_held_out_points(table):
    points, targets = table_targets(table, SPACE)
    assert len(points) == 40 and targets[0] == pytest.approx(truth(points[0]) - 0.01)  # seed 1 failed there
    quality = held_out_rank_quality(points, targets, SPACE, seed=0)
    assert quality["n_test"] == 8 and quality["kendall_tau"] > 0.4 and quality["spearman_rho"] > 0.5
    assert 0 < quality["kendall_tau_sem"] < 0.2 and quality["folds"] * quality["repeats"] == 15


@pytest.mark.parametrize(
    "regressor,features",
    [(regressor, "encoding+macs") for regressor in REGRESSORS]
    + [("random_forest", features) for features in FEATURES[1:]],
)
def test_every_regressor_and_feature_set_learns_the_ranking(table, regressor, features):
    points, targets = table_targets(table, SPACE)
    quality = held_out_rank_quality(points, targets, SPACE, seed=0, repeats=1, regressor=regressor, features=features)
    assert quality["kendall_tau"] > 0.2, quality  # the table's truth is a smooth function of the point


def test_the_predictor_refuses_bad_input():
    with pytest.raises(NasError, match="unknown features"):
        AccuracyPredictor(SPACE, features="pixels").features([SPACE.base])
    with pytest.raises(NasError, match="cross-validation needs"):
        held_out_rank_quality([SPACE.base] * 5, [0.1] * 5, SPACE)
    predictor = AccuracyPredictor(SPACE)
    with pytest.raises(NasError, match="not fitted"):
        predictor.predict([SPACE.base])
    with pytest.raises(NasError, match="at least 5"):
        predictor.fit([SPACE.base], [0.1])
    with pytest.raises(NasError, match="finite"):
        predictor.fit([SPACE.base] * 5, [0.1, 0.2, float("nan"), 0.3, 0.4])
    with pytest.raises(NasError, match="unknown regressor"):
        AccuracyPredictor(SPACE, regressor="magic").fit([SPACE.base] * 5, [0.1] * 5)
