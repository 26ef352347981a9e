"""Proxy-trained accuracy: a real tiny training, its fingerprint, determinism and failures."""

from __future__ import annotations

import math

import pytest
import torch

from estimators.data.cache import ClipCache
from estimators.proxy import (
    CandidateFailed,
    ProxyAccuracy,
    ProxySchedule,
    point_seed,
    resolve_device,
)
from spaces import NasError, get_space

SCHEDULE = ProxySchedule(epochs=1, batch_size=4, threads=1, seed=7)


def proxy_space(num_classes: int = 4):
    return get_space("x3d", num_classes=num_classes, base_crop=16, base_stride=2, head_width=32)


def test_real_training_reports_accuracy_timing_and_throughput(tiny_cache):
    space = proxy_space()
    estimator = ProxyAccuracy(tiny_cache, SCHEDULE, device="cpu")
    steps = []
    result = estimator.evaluate(space, space.point(frames=2, stride=2), on_step=steps.append)
    assert 0.0 <= result.metrics["accuracy"] <= 1.0 and math.isfinite(result.metrics["val_loss"])
    assert result.fidelity == 1 and result.seconds > 0 and result.info["clips_per_second"] > 0
    assert result.info["clips"] == 16 and len(steps) == 4 and steps[-1].total_steps == 4
    again = estimator.evaluate(space, space.point(frames=2, stride=2))
    assert again.metrics == result.metrics  # seeded from (seed, point): same result every time


def test_a_points_seed_does_not_depend_on_the_order_of_training():
    space = proxy_space()
    a, b = space.point(frames=2), space.point(frames=4)
    assert point_seed(0, a) == point_seed(0, a) != point_seed(0, b)
    assert point_seed(0, a) != point_seed(1, a)


def test_fingerprint_covers_data_schedule_seed_and_threads(tiny_cache, tmp_path):
    from estimators.data.ingest import build_synthetic
    from tests.conftest import TINY

    base = ProxyAccuracy(tiny_cache, SCHEDULE, device="cpu")
    assert base.fingerprint() == ProxyAccuracy(ClipCache(tiny_cache), SCHEDULE, device="cpu").fingerprint()
    changed = [
        ProxySchedule(epochs=2, batch_size=4, threads=1, seed=7),
        ProxySchedule(epochs=1, batch_size=4, threads=2, seed=7),
        ProxySchedule(epochs=1, batch_size=4, threads=1, seed=8),
        ProxySchedule(epochs=1, batch_size=8, threads=1, seed=7),
    ]
    prints = {ProxyAccuracy(tiny_cache, s, device="cpu").fingerprint() for s in changed}
    assert len(prints) == 4 and base.fingerprint() not in prints
    assert base.fingerprint(2.0) == ProxyAccuracy(tiny_cache, changed[0], device="cpu").fingerprint()
    other_data = tmp_path / "other"
    build_synthetic(other_data, TINY.__class__(**{**TINY.__dict__, "seed": 4}), codec="raw", workers=1)
    assert ProxyAccuracy(other_data, SCHEDULE, device="cpu").fingerprint() != base.fingerprint()


def test_a_point_the_clips_cannot_serve_fails_without_training(tiny_cache):
    space = proxy_space()
    estimator = ProxyAccuracy(tiny_cache, SCHEDULE, device="cpu")
    with pytest.raises(CandidateFailed, match="span 31 frames") as failure:
        estimator.evaluate(space, space.point(frames=16, stride=2))
    assert failure.value.trained is False  # free, and no budget spent on it


class _NaNHead(torch.nn.Module):
    def forward(self, x):
        return torch.full((x.shape[0], 4), float("nan")) + 0 * x.mean()


def test_a_nan_loss_fails_the_candidate_with_its_reason(tiny_cache, monkeypatch):
    space = proxy_space()
    monkeypatch.setattr(
        type(space),
        "build",
        lambda self, point, num_classes=None: torch.nn.Sequential(torch.nn.Conv3d(3, 4, 1), _NaNHead()),
    )
    with pytest.raises(CandidateFailed, match="loss became nan"):
        ProxyAccuracy(tiny_cache, SCHEDULE, device="cpu").evaluate(space, space.base)


def test_devices_are_checked():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(NasError, match="unknown device"):
        resolve_device("tpu:banana")
    if not torch.cuda.is_available():
        with pytest.raises(NasError, match="no usable CUDA"):
            resolve_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_training_with_mixed_precision(tiny_cache):
    space = proxy_space()
    result = ProxyAccuracy(tiny_cache, SCHEDULE, device="cuda").evaluate(space, space.point(frames=2, stride=2))
    assert 0.0 <= result.metrics["accuracy"] <= 1.0 and result.info["device"] == "cuda"


def test_an_image_space_trains_above_chance_on_the_synthetic_images(tmp_path):
    """The proxy serves 2D networks: one-frame clips read as images, a real training that learns.

    Disks against squares at 64² (no distractors), 60 validation images: two seeds reached 0.87 and 0.92, while the
    same training at lr 1e-9 (a network that learns nothing) gave 0.50 and 0.48 (2026-12-03). A network at chance
    passes the 0.7 bar on the mean of two seeds with probability about 5e-6.
    """
    from estimators.data.ingest import build_synthetic
    from estimators.data.synthetic_images import ImageSynthSettings

    build_synthetic(
        tmp_path / "images", ImageSynthSettings(classes=2, images_per_class=200, size=64, seed=3, distractors=0)
    )
    space = get_space(
        "x2d-image",
        num_classes=2,
        base_crop=64,
        stage_blocks=[1, 1, 1, 1],
        stage_widths=[8, 16, 32, 64],
        stem_width=8,
        head_width=32,
        dropout=0.0,
    )
    accuracies = []
    for seed in (0, 1):
        estimator = ProxyAccuracy(
            tmp_path / "images", ProxySchedule(epochs=8, batch_size=8, threads=1, seed=seed), device="cpu"
        )
        result = estimator.evaluate(space, space.base)
        assert result.info["clips"] == 8 * 8 * 35 and result.metrics["val_clips"] == 60  # 280 training images
        accuracies.append(result.metrics["accuracy"])
    assert sum(accuracies) / 2 > 0.7, accuracies  # chance: 0.5 on 60 validation images
