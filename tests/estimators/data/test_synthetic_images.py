"""The synthetic image data: deterministic images stored as one-frame clips, read back as images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from estimators.data.cache import ClipCache
from estimators.data.dataset import ClipDataset, ClipSampling, normalise_batch
from estimators.data.default import default_cache_path
from estimators.data.errors import CacheError
from estimators.data.ingest import build_synthetic
from estimators.data.synthetic import SynthSettings
from estimators.data.synthetic_images import (
    IMAGE_CLASSES,
    ImageSynthSettings,
    render_image_job,
)
from spaces import NasError

SETTINGS = ImageSynthSettings(classes=4, images_per_class=6, size=32, seed=3)


def test_generation_is_deterministic_and_classes_differ():
    assert np.array_equal(render_image_job(SETTINGS, 1, 2), render_image_job(SETTINGS, 1, 2))
    assert not np.array_equal(render_image_job(SETTINGS, 1, 2), render_image_job(SETTINGS, 1, 3))
    assert render_image_job(SETTINGS, 0, 0).shape == (1, 32, 32, 3)
    clean = ImageSynthSettings(classes=len(IMAGE_CLASSES), noise=0.0, distractors=0, size=64)
    # The object is the only thing drawn in one flat colour: its pixel count tells outline from pattern.
    areas = {
        name: np.mean([_object_pixels(render_image_job(clean, label, i)[0]) for i in range(8)])
        for label, name in enumerate(IMAGE_CLASSES)
    }
    assert areas["dots"] < 0.5 * areas["disk"] and areas["ring"] < 0.7 * areas["disk"]  # patterns and holes are drawn


def _object_pixels(image: np.ndarray) -> int:
    colours, counts = np.unique(image.reshape(-1, 3), axis=0, return_counts=True)
    return int(counts.max())


def test_its_own_cache_name_and_fingerprint():
    assert SETTINGS.fingerprint().startswith("synthimg-") and SETTINGS.fingerprint() != SynthSettings().fingerprint()
    assert default_cache_path(ImageSynthSettings()) != default_cache_path(SynthSettings())
    assert default_cache_path(ImageSynthSettings()).name.startswith("synthimg-")


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"classes": 11}, "classes must be"),
        ({"size": 8}, "size must be"),
        ({"noise": -1}, "noise must be"),
        ({"images_per_class": True}, "images_per_class"),
    ],
)
def test_bad_settings_name_the_setting_and_value(bad, message):
    with pytest.raises(NasError, match=message):
        ImageSynthSettings(**bad)


def test_stored_as_one_frame_clips_and_read_as_images(tmp_path):
    build_synthetic(tmp_path / "images", SETTINGS)
    cache = ClipCache(tmp_path / "images")
    assert cache.classes == list(IMAGE_CLASSES[:4]) and cache.shortest("train") == 1
    assert cache.meta["source_fingerprint"] == SETTINGS.fingerprint()
    train = ClipDataset(cache, "train", ClipSampling(1, 1, 24, "train", image=True))
    image, label = train[0]
    assert image.shape == (3, 24, 24) and 0 <= label < 4
    batch = normalise_batch(torch.stack([train[i][0] for i in range(3)]), channels_last=True)
    assert batch.shape == (3, 3, 24, 24) and batch.is_contiguous(memory_format=torch.channels_last)


def test_an_image_is_one_frame():
    with pytest.raises(CacheError, match="frames = 2"):
        ClipSampling(2, 1, 24, "train", image=True)
