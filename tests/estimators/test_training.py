"""Proxy training: a real (tiny) training run, its determinism, and its failure on divergence."""

from __future__ import annotations

import math

import pytest

from estimators.data.dataset import ClipDataset, ClipSampling
from estimators.training import (
    DivergedError,
    TrainSettings,
    build_seeded,
    learning_rate,
    train,
)
from spaces import get_space


def _run(cache, **overrides):
    space = get_space("x3d", num_classes=4, base_crop=24, base_stride=2, head_width=32)
    point = space.point(frames=2, stride=2, crop=24, width=0.5)
    train_set = ClipDataset(cache, "train", ClipSampling(2, 2, 24, "train"))
    val_set = ClipDataset(cache, "val", ClipSampling(2, 2, 24, "val"))
    settings = TrainSettings(**{"epochs": 2, "batch_size": 4, "lr": 0.05, "seed": 5, "threads": 1, **overrides})
    return train(build_seeded(space, point, settings.seed), train_set, val_set, settings)


def test_training_runs_and_reports(tiny_cache):
    result = _run(tiny_cache)
    assert 0.0 <= result.top1 <= 1.0 and math.isfinite(result.loss)
    train_clips = 4 * 4  # 6 clips per class: 4 train, 1 val, 1 test
    assert result.epochs == pytest.approx(2.0) and result.clips == 2 * train_clips and result.clips_per_second > 0
    assert len(result.curve) == 2 and len(result.per_class_top1) == 4


def test_same_seed_same_result(tiny_cache):
    first, second = _run(tiny_cache), _run(tiny_cache)
    assert (first.top1, first.loss, first.curve[-1]["train_loss"]) == (
        second.top1,
        second.loss,
        second.curve[-1]["train_loss"],
    )
    other = _run(tiny_cache, seed=6)
    assert other.curve[-1]["train_loss"] != first.curve[-1]["train_loss"]


def test_a_learning_curve_changes_nothing_else(tiny_cache):
    plain, curved = _run(tiny_cache, epochs=3), _run(tiny_cache, epochs=3, curve=True)
    assert [e["epoch"] for e in curved.curve] == [1, 2, 3] and all(0 <= e["val_top1"] <= 1 for e in curved.curve)
    assert (curved.top1, curved.loss, curved.per_class_top1) == (plain.top1, plain.loss, plain.per_class_top1)
    assert curved.curve[-1]["val_top1"] == plain.top1 and curved.curve[-1]["val_loss"] == plain.loss
    assert [e["train_loss"] for e in curved.curve] == [e["train_loss"] for e in plain.curve]
    assert 0 < curved.curve[0]["seconds"] < curved.curve[-1]["seconds"] <= curved.seconds + 1e-6


def test_divergence_is_reported(tiny_cache):
    with pytest.raises(DivergedError, match="loss (became|diverged)"):
        _run(tiny_cache, lr=1e12)


def test_schedule_warms_up_then_decays():
    assert learning_rate(1.0, 0.0, 0.1) == pytest.approx(0.1)
    assert learning_rate(1.0, 0.1, 0.1) == pytest.approx(1.0)
    assert learning_rate(1.0, 1.0, 0.1) == pytest.approx(0.0, abs=1e-12)


def test_a_split_smaller_than_one_batch_still_trains(tiny_cache):
    result = _run(tiny_cache, batch_size=64, epochs=2)  # 16 training clips
    assert result.clips == 32 and result.epochs == pytest.approx(2.0)
