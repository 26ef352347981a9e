"""The embedded synthetic action datasets: ``scenes`` (the default) and ``motion``.

``kind="scenes"`` (``--data synth``, the default) looks like Kinetics where X3D
relies on it: one frame carries much of the class and each axis adds to it;
it is drawn by :mod:`.synthetic_scenes`.  ``kind="motion"`` (``--data
synth-motion``, the default before) is described below and drawn here: one
frame says nothing, so it stress-tests the axes of time.  Caches of either
kind stay readable; each has its own fingerprint, and the motion kind's is
the one its caches had before the scenes kind existed.

Motion data: every clip shows a textured background, one *actor* and a few distractors.
Shape, colour, size, position, marker angle and background are drawn from the
same distribution for every class, so one frame says (almost) nothing about
the class; the class is the actor's motion.  The classes are chosen so that
each X3D axis has something to win:

- frame rate (X-Fast): ``shake`` oscillates with a period of 4–5 frames and
  aliases into ``still`` when sampled every 4–5 frames;
- clip duration (X-Temporal): ``sway`` (period 40–64 frames) looks like a
  slide in a short window, ``blink`` hides the actor for a few frames once;
- resolution (X-Spatial): ``spin_cw`` vs ``spin_ccw`` differ only by the
  direction of a marker of a few pixels on the actor's rim;
- capacity (width, bottleneck, depth): 12 classes and moving distractors.

A horizontal flip turns ``slide_right`` into ``slide_left`` and ``spin_cw``
into ``spin_ccw``: the cache's ``flip_map`` says so, and the loader relabels
flipped clips.  Generation is deterministic: clip ``i`` of class ``c`` depends
only on ``(seed, c, i)``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np

#: Bumped whenever the generator would draw different clips for the same settings.
GENERATOR_VERSION = 1

CLASSES = (
    "still",
    "slide_right",
    "slide_left",
    "slide_up",
    "slide_down",
    "shake",
    "sway",
    "spin_cw",
    "spin_ccw",
    "grow",
    "shrink",
    "blink",
)
FLIPPED = {"slide_right": "slide_left", "slide_left": "slide_right", "spin_cw": "spin_ccw", "spin_ccw": "spin_cw"}
#: Share of each class held out for validation, and again for test (the rest trains), in the motion data.
HELD_OUT_FRACTION = 0.15
KINDS = ("scenes", "motion")
SHAPES = ("disk", "square", "diamond")


@dataclass(frozen=True)
class SynthSettings:
    """What a synthetic cache is made of; its fingerprint names the data everywhere downstream.

    The scenes default holds 185 clips per class: 100 validate (so a top-1 over
    the 1,200 validation clips has a standard error of at most 1.5 points), 15
    test and 70 train.
    """

    classes: int = 12
    clips_per_class: int = 185
    frames: int = 64
    size: int = 64
    seed: int = 0
    fps: float = 30.0
    distractors: int = 2
    noise: float = 3.0  # std of per-pixel Gaussian noise, in grey levels
    kind: str = "scenes"
    val_fraction: float = 0.54
    test_fraction: float = 0.08

    def __post_init__(self) -> None:
        from spaces.errors import NasError

        if self.kind not in KINDS:
            raise NasError(f"synthetic data: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        check_whole_numbers(
            self,
            "synthetic data",
            {
                "classes": (2, len(self.all_classes)),
                "clips_per_class": (3, 100_000),
                "frames": (8, 4096),
                "size": (16, 1024),
                "distractors": (0, 16),
            },
        )
        for name in ("val_fraction", "test_fraction"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 0.9:
                raise NasError(f"synthetic data: {name} must be a number in (0, 0.9), got {value!r}")
        if self.val_fraction + self.test_fraction >= 0.95:
            raise NasError(
                f"synthetic data: val_fraction + test_fraction must leave clips to train on, got "
                f"{self.val_fraction} + {self.test_fraction}"
            )
        if isinstance(self.noise, bool) or not isinstance(self.noise, (int, float)) or not 0 <= self.noise <= 128:
            raise NasError(f"synthetic data: noise must be a number in [0, 128], got {self.noise!r}")

    @property
    def all_classes(self) -> tuple[str, ...]:
        from .synthetic_scenes import SCENE_CLASSES

        return SCENE_CLASSES if self.kind == "scenes" else CLASSES

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.all_classes[: self.classes]

    def flip_map(self) -> list[int]:
        from .synthetic_scenes import SCENE_FLIPPED

        flipped = SCENE_FLIPPED if self.kind == "scenes" else FLIPPED
        names = self.class_names
        return [names.index(flipped[n]) if flipped.get(n) in names else i for i, n in enumerate(names)]

    def fingerprint(self) -> str:
        """``synth-…``: the motion kind's payload is exactly what it was before kinds existed (old caches match)."""
        settings = asdict(self)
        if self.kind == "motion":
            kept = {k: v for k, v in settings.items() if k not in ("kind", "val_fraction", "test_fraction")}
            payload = {"generator": GENERATOR_VERSION, **kept}
            if self.split_counts() != _motion_split_counts(self.clips_per_class):
                payload["splits"] = self.split_counts()  # only splits other than the old 15/15 name other data
        else:
            from .synthetic_scenes import SCENE_GENERATOR_VERSION

            payload = {"generator": f"scenes-{SCENE_GENERATOR_VERSION}", **settings}
        return "synth-" + hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def split_counts(self) -> tuple[int, int]:
        """(validation, test) clips per class."""
        return held_out_counts(self.clips_per_class, self.val_fraction, self.test_fraction)


@dataclass(frozen=True)
class MotionSynthSettings(SynthSettings):
    """The motion-only data (``--data synth-motion``): the default before the scenes data, with its old sizes."""

    clips_per_class: int = 100
    distractors: int = 1
    kind: str = "motion"
    val_fraction: float = HELD_OUT_FRACTION
    test_fraction: float = HELD_OUT_FRACTION


def _motion_split_counts(per_class: int) -> tuple[int, int]:
    return held_out_counts(per_class, HELD_OUT_FRACTION, HELD_OUT_FRACTION)


def held_out_counts(per_class: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    """(validation, test) clips of a class of ``per_class``: each at least 1, leaving at least 1 to train."""
    val = max(1, round(per_class * val_fraction))
    test = max(1, round(per_class * test_fraction))
    return min(val, max(1, per_class - test - 1)), test


def check_whole_numbers(settings: object, what: str, limits: dict[str, tuple[int, int]]) -> None:
    """Raise a one-line error naming the first setting that is not a whole number within its limits."""
    from spaces.errors import NasError

    for name, (low, high) in limits.items():
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise NasError(f"{what}: {name} must be a whole number in [{low}, {high}], got {value!r}")


def split_of(index: int, per_class: int, held_out: tuple[int, int] | None = None) -> str:
    """Deterministic split of clip ``index`` of a class: train first, then validation, then test.

    ``held_out`` is (validation, test) clips per class; by default 15 % each (at least 1).
    """
    val, test = held_out or _motion_split_counts(per_class)
    train = per_class - val - test
    return "train" if index < train else "val" if index < train + val else "test"


# -- rendering ----------------------------------------------------------------------
def _shape_mask(shape: str, dx: np.ndarray, dy: np.ndarray, radius: np.ndarray) -> np.ndarray:
    if shape == "disk":
        return dx**2 + dy**2 <= radius**2
    if shape == "square":
        return np.maximum(np.abs(dx), np.abs(dy)) <= radius * 0.85
    return np.abs(dx) + np.abs(dy) <= radius * 1.2


def _colour(rng: np.random.Generator, avoid: np.ndarray | None = None) -> np.ndarray:
    for _ in range(20):
        colour = rng.integers(0, 256, 3)
        if avoid is None or np.abs(colour - avoid).sum() > 180:
            return colour.astype(np.uint8)
    return (255 - avoid).astype(np.uint8)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth random texture: low-frequency noise around a random colour."""
    texture = smooth_texture(rng.normal(0, 10, (4, 4, 3)), size)
    return np.clip(rng.integers(40, 216, 3) + texture, 0, 255)


def smooth_texture(coarse: np.ndarray, size: int) -> np.ndarray:
    """A ``(size, size, 3)`` texture: a ``(4, 4, 3)`` grid of values interpolated bilinearly."""
    ramp = np.linspace(0, 3, size)
    i = np.clip(ramp.astype(int), 0, 2)
    f = (ramp - i)[:, None]
    rows = coarse[i] * (1 - f[..., None]) + coarse[i + 1] * f[..., None]  # (size, 4, 3)
    return rows[:, i] * (1 - f.T[..., None]) + rows[:, i + 1] * f.T[..., None]


def _trajectory(name: str, t: np.ndarray, rng: np.random.Generator, size: int):
    """Actor centre (x, y), radius factor, marker angle and visibility per frame for a class."""
    n = len(t)
    phase = (t - (n - 1) / 2) / n  # -0.5 .. 0.5 over the clip
    x = np.zeros(n)
    y = np.zeros(n)
    scale = np.ones(n)
    angle = np.full(n, rng.uniform(0, 2 * math.pi))
    visible = np.ones(n, dtype=bool)
    travel = rng.uniform(0.5, 0.7) * size
    if name == "slide_right":
        x = travel * phase
    elif name == "slide_left":
        x = -travel * phase
    elif name == "slide_up":
        y = -travel * phase
    elif name == "slide_down":
        y = travel * phase
    elif name == "shake":
        x = (
            size
            * rng.uniform(0.12, 0.16)
            * np.sin(2 * math.pi * t / rng.uniform(4.0, 5.0) + rng.uniform(0, 2 * math.pi))
        )
    elif name == "sway":
        x = size * rng.uniform(0.22, 0.28) * np.sin(2 * math.pi * t / rng.uniform(40, 64) + rng.uniform(0, 2 * math.pi))
    elif name in ("spin_cw", "spin_ccw"):
        turn = 2 * math.pi * t / rng.uniform(20, 32)
        angle = angle + (turn if name == "spin_cw" else -turn)
    elif name == "grow":
        scale = 1 + 0.9 * phase
    elif name == "shrink":
        scale = 1 - 0.9 * phase
    elif name == "blink":
        start = rng.integers(0, max(1, n - 8))
        visible[start : start + 8] = False
    return x, y, scale, angle, visible


def render_clip(name: str, settings: SynthSettings, rng: np.random.Generator) -> np.ndarray:
    """One ``(frames, size, size, 3)`` uint8 clip of class ``name``."""
    size, frames = settings.size, settings.frames
    t = np.arange(frames, dtype=np.float64)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    background = _background(rng, size)
    clip = np.broadcast_to(background, (frames, size, size, 3)).copy()

    def draw(centre_x, centre_y, radius, shape, colour, visible, marker_angle=None, marker_colour=None):
        for k in range(frames):
            if not visible[k]:
                continue
            dx, dy = xx - centre_x[k], yy - centre_y[k]
            clip[k][_shape_mask(shape, dx, dy, radius[k])] = colour
            if marker_angle is not None:
                mx = centre_x[k] + 0.7 * radius[k] * math.cos(marker_angle[k])
                my = centre_y[k] + 0.7 * radius[k] * math.sin(marker_angle[k])
                marker = (xx - mx) ** 2 + (yy - my) ** 2 <= max(1.0, 0.3 * radius[k]) ** 2
                clip[k][marker] = marker_colour

    for _ in range(rng.integers(0, settings.distractors + 1)):  # distractors: a random walk, any class
        steps = rng.normal(0, size * 0.01, (frames, 2)).cumsum(axis=0)
        start = rng.uniform(0.15, 0.85, 2) * size
        radius = np.full(frames, rng.uniform(0.03, 0.05) * size)
        draw(
            start[0] + steps[:, 0],
            start[1] + steps[:, 1],
            radius,
            rng.choice(SHAPES),
            _colour(rng),
            np.ones(frames, bool),
        )

    x, y, scale, angle, visible = _trajectory(name, t, rng, size)
    centre = rng.uniform(0.35, 0.65, 2) * size
    radius = rng.uniform(0.15, 0.21) * size * scale
    body = _colour(rng, avoid=background[size // 2, size // 2])
    draw(centre[0] + x, centre[1] + y, radius, rng.choice(SHAPES), body, visible, angle, _colour(rng, avoid=body))

    noise = rng.normal(0, settings.noise, clip.shape) if settings.noise > 0 else 0
    return np.clip(clip + noise, 0, 255).astype(np.uint8)


def render_job(settings: SynthSettings, label: int, index: int) -> np.ndarray:
    """Clip ``index`` of class ``label``: a function of (seed, label, index) only."""
    if settings.kind == "scenes":
        from .synthetic_scenes import SCENE_GENERATOR_VERSION, render_scene_clip

        rng = np.random.default_rng([settings.seed, label, index, 1000 + SCENE_GENERATOR_VERSION])
        return render_scene_clip(settings.class_names[label], settings, rng)
    rng = np.random.default_rng([settings.seed, label, index, GENERATOR_VERSION])
    return render_clip(settings.class_names[label], settings, rng)


def clip_list(settings: SynthSettings) -> Iterator[tuple[str, int, str, int]]:
    """(video id, label, split, index) of every clip, in a fixed order (of images too: they are one-frame clips)."""
    counts = settings.split_counts() if hasattr(settings, "split_counts") else None
    for index in range(settings.clips_per_class):
        for label, name in enumerate(settings.class_names):
            yield f"{name}_{index:05d}", label, split_of(index, settings.clips_per_class, counts), index
