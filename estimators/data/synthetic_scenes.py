"""The embedded default dataset: synthetic actions that look like Kinetics where X3D relies on it.

X3D starts from X2D, a 2D network that already works on one frame, and asks
which axis to grow.  On Kinetics one frame carries most of the signal (a
scene, an object), and the rest needs motion, duration, detail or capacity.
These clips are built the same way:

- **appearance**: the twelve classes come in six *scene families* of two.
  Each family has its own background hue, drawn around the family's centre
  with a spread that overlaps the neighbouring families', so one frame names
  the family most of the time (a 1-frame model sits well above chance) but
  not always, and never the class within the family;
- **motion** (any second frame): ``walk`` and ``run`` slide the actor slowly
  or fast; ``slide_right`` / ``slide_left`` differ only in direction (temporal
  order, the slowest to learn);
- **frame rate** (X-Fast): ``vibrate`` (period 4-5 frames) and ``wander``
  (period 16-24 frames) have the same amplitude; sampled every 8 frames the
  vibration aliases, so only denser sampling tells them apart;
- **clip duration** (X-Temporal): ``blink`` hides the actor for 6 frames once,
  ``stay`` never does: the longer the window, the likelier it sees the gap;
- **resolution** (X-Spatial): every actor is a checkerboard of two tones
  (5-pixel cells, so its motion changes its inside, not only its outline);
  a ``textured`` actor's cells are 2 pixels, a ``plain`` one is their mean
  colour: a small crop blurs the fine cells away;
- **capacity** (width, bottleneck, depth): ``xor_a`` is a warm large or a
  cool small actor, ``xor_b`` a warm small or a cool large one: neither colour
  nor size alone says which; and one or two moving distractors in every clip.

A horizontal flip swaps ``slide_right`` and ``slide_left`` only (the cache's
``flip_map`` says so).  Generation is deterministic: clip ``i`` of class ``c``
depends only on ``(seed, c, i)``.
"""

from __future__ import annotations

import colorsys
import math

import numpy as np

#: Bumped whenever the generator would draw different clips for the same settings.
SCENE_GENERATOR_VERSION = 4

SCENE_CLASSES = (
    "walk",
    "run",
    "slide_right",
    "slide_left",
    "vibrate",
    "wander",
    "blink",
    "stay",
    "textured",
    "plain",
    "xor_a",
    "xor_b",
)
SCENE_FLIPPED = {"slide_right": "slide_left", "slide_left": "slide_right"}
#: Background hue of each family (degrees) and how far a clip's hue strays from it: 45 degrees either
#: side against 60 between families, so a third of the hue circle is shared by two neighbours.
FAMILY_HUE_STEP, HUE_SPREAD = 60.0, 45.0
WARM, COOL = ((220, 60, 40), (235, 150, 30)), ((40, 90, 225), (30, 190, 210))


def family_of(name: str) -> int:
    """The scene family (0-5) of a class: classes 2k and 2k + 1 share family k."""
    return SCENE_CLASSES.index(name) // 2


def _scene_background(rng: np.random.Generator, size: int, family: int) -> np.ndarray:
    """A smooth texture around a colour whose hue says the family (with overlap between neighbours)."""
    hue = (family * FAMILY_HUE_STEP + rng.uniform(-HUE_SPREAD, HUE_SPREAD)) % 360.0
    rgb = np.array(colorsys.hsv_to_rgb(hue / 360.0, rng.uniform(0.45, 0.75), rng.uniform(0.45, 0.8))) * 255
    from .synthetic import smooth_texture

    return np.clip(rgb + smooth_texture(rng.normal(0, 12, (4, 4, 3)), size), 0, 255)


def _motion(name: str, t: np.ndarray, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Actor offset (x, y) from its start and visibility per frame for a class."""
    n = len(t)
    phase = (t - (n - 1) / 2) / n  # -0.5 .. 0.5 over the clip
    x, y, visible = np.zeros(n), np.zeros(n), np.ones(n, dtype=bool)
    if name in ("walk", "run"):  # either way along either axis: only the speed says which
        travel = rng.uniform(0.15, 0.25) if name == "walk" else rng.uniform(0.7, 0.9)
        angle = rng.integers(0, 4) * math.pi / 2
        x, y = travel * size * phase * math.cos(angle), travel * size * phase * math.sin(angle)
    elif name == "slide_right":
        x = rng.uniform(0.7, 0.9) * size * phase
    elif name == "slide_left":
        x = -rng.uniform(0.7, 0.9) * size * phase
    elif name in ("vibrate", "wander"):
        period = rng.uniform(4.0, 5.0) if name == "vibrate" else rng.uniform(16.0, 24.0)
        x = size * rng.uniform(0.13, 0.16) * np.sin(2 * math.pi * t / period + rng.uniform(0, 2 * math.pi))
    else:  # the others drift a little, as filmed objects do
        x, y = (rng.normal(0, size * 0.004, (2, n))).cumsum(axis=1)
        if name == "blink":
            start = rng.integers(0, max(1, n - 6))
            visible[start : start + 6] = False
    return x, y, visible


def _actor_look(
    name: str, rng: np.random.Generator, background: np.ndarray
) -> tuple[str, np.ndarray, np.ndarray | None, float]:
    """Shape, colour, second checker colour (textured actors) and radius factor of the actor of class ``name``."""
    from .synthetic import SHAPES, _colour

    shape = str(rng.choice(SHAPES))
    if name in ("xor_a", "xor_b"):
        warm, large = bool(rng.integers(0, 2)), bool(rng.integers(0, 2))
        palette = WARM if warm else COOL
        colour = np.clip(np.array(palette[rng.integers(0, 2)]) + rng.normal(0, 12, 3), 0, 255).astype(np.uint8)
        if (warm == large) != (name == "xor_a"):  # xor_a: warm large or cool small
            large = not large
        dark = np.clip(colour.astype(int) - 60, 0, 255).astype(np.uint8)
        return shape, colour, dark, (1.2 if large else 0.7)
    colour = _colour(rng, avoid=background[background.shape[0] // 2, background.shape[1] // 2])
    light = np.clip(colour.astype(int) + 60, 0, 255).astype(np.uint8)
    dark = np.clip(colour.astype(int) - 60, 0, 255).astype(np.uint8)
    if name == "plain":  # the checkerboard's mean colour: the same at a resolution too low to see the cells
        return shape, ((light.astype(int) + dark) // 2).astype(np.uint8), None, 1.0
    return shape, light, dark, 1.0


def render_scene_clip(name: str, settings, rng: np.random.Generator) -> np.ndarray:
    """One ``(frames, size, size, 3)`` uint8 clip of class ``name``."""
    from .synthetic import SHAPES, _colour, _shape_mask

    size, frames = settings.size, settings.frames
    t = np.arange(frames, dtype=np.float64)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    background = _scene_background(rng, size, family_of(name))
    clip = np.broadcast_to(background, (frames, size, size, 3)).copy()
    for _ in range(rng.integers(1, settings.distractors + 1) if settings.distractors else 0):
        steps = rng.normal(0, size * 0.012, (frames, 2)).cumsum(axis=0)
        start = rng.uniform(0.1, 0.9, 2) * size
        radius, shape, colour = rng.uniform(0.04, 0.07) * size, str(rng.choice(SHAPES)), _colour(rng)
        for k in range(frames):
            clip[k][_shape_mask(shape, xx - start[0] - steps[k, 0], yy - start[1] - steps[k, 1], radius)] = colour
    x, y, visible = _motion(name, t, rng, size)
    centre = rng.uniform(0.38, 0.62, 2) * size
    shape, colour, second, factor = _actor_look(name, rng, background)
    radius = rng.uniform(0.2, 0.26) * size * factor
    cell = 2.0 if name == "textured" else 5.0  # every actor is textured, so its motion changes its inside too
    for k in np.flatnonzero(visible):
        dx, dy = xx - centre[0] - x[k], yy - centre[1] - y[k]
        mask = _shape_mask(shape, dx, dy, radius)
        clip[k][mask] = colour
        if second is not None:  # checker cells that move with the actor (2 pixels on a ``textured`` one)
            cells = (np.floor(dx / cell) + np.floor(dy / cell)) % 2 == 1
            clip[k][mask & cells] = second
    noise = rng.normal(0, settings.noise, clip.shape) if settings.noise > 0 else 0
    return np.clip(clip + noise, 0, 255).astype(np.uint8)
