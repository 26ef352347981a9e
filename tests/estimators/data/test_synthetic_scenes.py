"""The default synthetic data (``synth``, scenes): one frame says much of the class, each axis adds to it."""

from __future__ import annotations

import numpy as np
import pytest

from estimators.data.synthetic import (
    MotionSynthSettings,
    SynthSettings,
    clip_list,
    render_job,
)
from estimators.data.synthetic_scenes import SCENE_CLASSES, family_of

SMALL = SynthSettings(clips_per_class=24, frames=16, size=32)


def _frame_features(settings: SynthSettings, label: int, index: int) -> np.ndarray:
    """A few pixels' statistics of the first frame alone: the mean colour of its four corners."""
    frame = render_job(settings, label, index)[0].astype(np.float32)
    corners = [frame[:4, :4], frame[:4, -4:], frame[-4:, :4], frame[-4:, -4:]]
    return np.concatenate([c.reshape(-1, 3).mean(0) for c in corners]) / 255


def _nearest_centroid_top1(settings: SynthSettings, train: int = 16) -> float:
    """Top-1 of a nearest-centroid classifier on one frame's corner colours:
    train on the first clips, test on the rest."""
    classes = range(settings.classes)
    centroids = np.stack([np.mean([_frame_features(settings, c, i) for i in range(train)], axis=0) for c in classes])
    correct = total = 0
    for c in classes:
        for i in range(train, settings.clips_per_class):
            guess = int(np.argmin(((centroids - _frame_features(settings, c, i)) ** 2).sum(axis=1)))
            correct += guess == c
            total += 1
    return correct / total


def test_one_frame_carries_the_scene_on_the_default_but_nothing_on_the_motion_data():
    chance = 1 / 12
    scenes = _nearest_centroid_top1(SMALL)
    motion = _nearest_centroid_top1(MotionSynthSettings(clips_per_class=24, frames=16, size=32))
    assert scenes > 2.5 * chance, scenes  # the family's hue: well above chance, though never the class within it
    assert scenes < 0.75, scenes  # families overlap: one frame cannot separate them all
    assert motion < 2 * chance, motion


def test_classes_of_one_family_look_alike_in_one_frame():
    same = [family_of(SCENE_CLASSES[2 * k]) == family_of(SCENE_CLASSES[2 * k + 1]) for k in range(6)]
    assert all(same) and len({family_of(n) for n in SCENE_CLASSES}) == 6


def _clip(name: str, index: int = 0, **settings) -> np.ndarray:
    chosen = SynthSettings(
        **{"clips_per_class": 4, "frames": 64, "size": 64, "noise": 0.0, "distractors": 0, **settings}
    )
    return render_job(chosen, SCENE_CLASSES.index(name), index).astype(np.float32)


def _motion(frames: np.ndarray) -> float:
    return float(np.abs(np.diff(frames, axis=0)).mean())


def test_run_moves_much_more_than_walk():
    assert _motion(_clip("run")[::8]) > 2.5 * _motion(_clip("walk")[::8])


def test_vibrate_aliases_at_a_low_frame_rate_and_wander_does_not():
    """X-Fast matters: every 4 frames vibrate barely moves (a period of 4-5), wander does; every frame, the reverse."""
    vibrate, wander = _clip("vibrate"), _clip("wander")
    assert _motion(vibrate[:32]) > 1.5 * _motion(wander[:32])
    assert _motion(vibrate[::4]) < _motion(wander[::4])


def test_blink_hides_the_actor_for_six_frames_once():
    blink, stay = _clip("blink"), _clip("stay")
    jumps = np.sort(np.abs(np.diff(blink, axis=0)).mean(axis=(1, 2, 3)))[::-1]
    assert jumps[1] > 2 * jumps[2]  # two jumps stand out: it disappears, then reappears 6 frames later
    assert np.abs(np.diff(stay, axis=0)).mean(axis=(1, 2, 3)).max() < jumps[1] / 2


def test_texture_is_a_fine_detail_that_downsampling_removes():
    textured, plain = _clip("textured")[0], _clip("plain")[0]

    def detail(image: np.ndarray) -> float:
        return float(np.abs(np.diff(image, axis=1)).mean())

    def quartered(image: np.ndarray) -> np.ndarray:  # 4x4 box filter: what a crop at a quarter of the resolution keeps
        return image.reshape(16, 4, 16, 4, 3).mean(axis=(1, 3))

    assert detail(textured) > 2 * detail(plain)
    assert detail(quartered(textured)) < 1.5 * detail(quartered(plain))


def test_the_default_splits_keep_100_validation_clips_per_class_and_only_the_slide_pair_flips():
    default = SynthSettings()
    splits = [split for _, _, split, _ in clip_list(default)]
    assert splits.count("val") == 1200 and splits.count("test") == 180 and splits.count("train") == 840
    names = default.class_names
    flip = default.flip_map()
    assert names[flip[names.index("slide_right")]] == "slide_left"
    assert all(flip[i] == i for i, n in enumerate(names) if not n.startswith("slide"))


def test_generation_is_deterministic():
    assert np.array_equal(render_job(SMALL, 5, 2), render_job(SMALL, 5, 2))
    assert not np.array_equal(render_job(SMALL, 5, 2), render_job(SMALL, 5, 3))
    assert SMALL.fingerprint() != SynthSettings().fingerprint()


@pytest.mark.parametrize("classes", [2, 12])
def test_any_prefix_of_the_classes_is_a_dataset(classes):
    settings = SynthSettings(classes=classes, clips_per_class=3, frames=8, size=16)
    assert settings.class_names == SCENE_CLASSES[:classes] and len(list(clip_list(settings))) == 3 * classes
