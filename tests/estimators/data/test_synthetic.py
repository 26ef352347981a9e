"""The motion-only synthetic data (``synth-motion``): deterministic, and built so that each X3D axis of time matters."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from estimators.data.synthetic import (
    CLASSES,
    MotionSynthSettings,
    SynthSettings,
    clip_list,
    render_job,
    split_of,
)
from spaces import NasError

SETTINGS = MotionSynthSettings(clips_per_class=5, frames=48, size=48, noise=0.0, distractors=0)


def _clip(name: str, index: int = 0) -> np.ndarray:
    return render_job(SETTINGS, CLASSES.index(name), index).astype(np.float32)


def _motion(frames: np.ndarray) -> float:
    return float(np.abs(np.diff(frames, axis=0)).mean())


def test_generation_is_deterministic_and_distinct():
    assert np.array_equal(render_job(SETTINGS, 3, 1), render_job(SETTINGS, 3, 1))
    assert not np.array_equal(render_job(SETTINGS, 3, 1), render_job(SETTINGS, 3, 2))
    assert (
        SETTINGS.fingerprint()
        == MotionSynthSettings(clips_per_class=5, frames=48, size=48, noise=0.0, distractors=0).fingerprint()
    )
    assert SETTINGS.fingerprint() != MotionSynthSettings().fingerprint() != SynthSettings().fingerprint()


def test_the_motion_data_keeps_the_fingerprint_its_caches_had_before_the_scenes_default():
    """Old caches stay found: the payload of the generator before kinds existed, hashed the same way."""
    old = {
        "generator": 1,
        "classes": 12,
        "clips_per_class": 100,
        "frames": 64,
        "size": 64,
        "seed": 0,
        "fps": 30.0,
        "distractors": 1,
        "noise": 3.0,
    }
    digest = hashlib.sha256(json.dumps(old, sort_keys=True).encode()).hexdigest()[:16]
    assert MotionSynthSettings().fingerprint() == f"synth-{digest}"
    assert (
        SynthSettings(
            kind="motion", clips_per_class=100, distractors=1, val_fraction=0.15, test_fraction=0.15
        ).fingerprint()
        == f"synth-{digest}"
    )


def test_shake_aliases_into_stillness_at_a_low_frame_rate():
    """X-Fast matters: sampled every 4-5 frames, the fast shake barely moves; every frame, it moves a lot."""
    shake = _clip("shake")
    dense = _motion(shake[:24])
    sparse = min(_motion(shake[::4]), _motion(shake[::5]))
    assert dense > 2.5 * sparse


def test_sway_is_slow_so_short_windows_look_like_slides():
    """X-Temporal matters: over a few frames sway moves little; over the whole clip it comes back."""
    sway = _clip("sway")
    assert _motion(sway[:4]) < _motion(sway[::8])


def test_blink_hides_the_actor_for_a_few_frames_only():
    blink = _clip("blink")
    per_frame = np.abs(blink - blink[0]).mean(axis=(1, 2, 3))
    changed = per_frame > 1.0
    assert 0 < changed.sum() <= 16


def test_spin_direction_is_only_in_a_small_marker():
    cw, ccw = _clip("spin_cw"), _clip("spin_ccw")
    changed = np.abs(np.diff(cw, axis=0)).max(axis=-1) > 0
    assert changed.mean() < 0.02  # a few pixels per frame move
    assert _motion(cw) > 0 and _motion(ccw) > 0


def test_splits_and_flip_map():
    assert [split_of(i, 10) for i in range(10)].count("test") == 2
    assert [split_of(i, 3) for i in range(3)] == ["train", "val", "test"]
    names = MotionSynthSettings().class_names
    flip = MotionSynthSettings().flip_map()
    assert names[flip[names.index("spin_cw")]] == "spin_ccw" and flip[names.index("still")] == names.index("still")
    assert len(list(clip_list(SETTINGS))) == 12 * 5


def test_bad_settings_are_refused():
    with pytest.raises(NasError, match="classes"):
        MotionSynthSettings(classes=40)
    with pytest.raises(NasError, match="kind must be one of scenes, motion, got 'cartoon'"):
        SynthSettings(kind="cartoon")
    with pytest.raises(NasError, match="val_fraction"):
        SynthSettings(val_fraction=0.95)
