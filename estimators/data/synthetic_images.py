"""The embedded default image dataset: synthetic objects whose class is their shape or pattern.

The data of image spaces (``x2d-image``), stored in the same clip cache as
one-frame clips so the cache, loader and proxy trainer serve it unchanged.
Every image shows a textured background, one *object* and a few small
distractors.  Colour, size, position and background are drawn from the same
distribution for every class; the class is what the object looks like:

- outline (``disk``, ``square``, ``diamond``, ``triangle``, ``cross``, ``ring``):
  learnable at low resolution, though ``ring`` against ``disk`` needs its hole;
- texture (``stripes_h``, ``stripes_v``, ``checker``, ``dots``): a pattern with a
  period of about a sixth of the image, which a low-resolution crop blurs away,
  so resolution and capacity both have something to win.

Every class looks the same mirrored, so the flip map is the identity.
Generation is deterministic: image ``i`` of class ``c`` depends only on
``(seed, c, i)``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np

from .synthetic import _background, _colour, _shape_mask, check_whole_numbers

#: Bumped whenever the generator would draw different images for the same settings.
IMAGE_GENERATOR_VERSION = 1
IMAGE_CLASSES = (
    "stripes_h",
    "stripes_v",
    "disk",
    "cross",
    "square",
    "ring",
    "checker",
    "dots",
    "diamond",
    "triangle",
)
#: Pattern period relative to the image side.
PATTERN_PERIOD = 0.16
#: An image is a one-frame clip; its frame rate changes nothing.
IMAGE_FPS = 1.0


@dataclass(frozen=True)
class ImageSynthSettings:
    """What a synthetic image cache is made of; its fingerprint names the data everywhere downstream."""

    classes: int = 10
    images_per_class: int = 500  # enough steps per epoch for X2D-style networks to learn in a few epochs
    size: int = 64
    seed: int = 0
    distractors: int = 2
    noise: float = 3.0  # std of per-pixel Gaussian noise, in grey levels

    def __post_init__(self) -> None:
        from spaces.errors import NasError

        check_whole_numbers(
            self,
            "synthetic images",
            {
                "classes": (2, len(IMAGE_CLASSES)),
                "images_per_class": (3, 100_000),
                "size": (16, 1024),
                "distractors": (0, 16),
            },
        )
        if isinstance(self.noise, bool) or not isinstance(self.noise, (int, float)) or not 0 <= self.noise <= 128:
            raise NasError(f"synthetic images: noise must be a number in [0, 128], got {self.noise!r}")

    @property
    def class_names(self) -> tuple[str, ...]:
        return IMAGE_CLASSES[: self.classes]

    @property
    def clips_per_class(self) -> int:
        """Images per class, under the name the clip list reads."""
        return self.images_per_class

    @property
    def fps(self) -> float:
        return IMAGE_FPS

    def flip_map(self) -> list[int]:
        return list(range(self.classes))

    def fingerprint(self) -> str:
        payload = json.dumps({"generator": IMAGE_GENERATOR_VERSION, **asdict(self)}, sort_keys=True)
        return "synthimg-" + hashlib.sha256(payload.encode()).hexdigest()[:16]


def _object_mask(name: str, dx: np.ndarray, dy: np.ndarray, radius: float, period: float) -> np.ndarray:
    """Pixels of an object of class ``name`` centred at dx = dy = 0."""
    if name in ("disk", "square", "diamond"):
        return _shape_mask(name, dx, dy, radius)
    if name == "ring":
        distance = dx**2 + dy**2
        return (distance <= radius**2) & (distance >= (0.55 * radius) ** 2)
    if name == "cross":
        arm = 0.3 * radius
        return ((np.abs(dx) <= arm) & (np.abs(dy) <= radius)) | ((np.abs(dy) <= arm) & (np.abs(dx) <= radius))
    if name == "triangle":  # apex up: the same after a horizontal flip
        return (dy >= -radius) & (dy <= radius) & (np.abs(dx) <= (dy + radius) * 0.6)
    inside = np.maximum(np.abs(dx), np.abs(dy)) <= radius
    band_x, band_y = np.floor(2 * dx / period) % 2 == 0, np.floor(2 * dy / period) % 2 == 0
    if name == "stripes_h":
        return inside & band_y
    if name == "stripes_v":
        return inside & band_x
    if name == "checker":
        return inside & (band_x ^ band_y)
    cell_x, cell_y = dx - period * np.round(dx / period), dy - period * np.round(dy / period)  # dots
    return inside & (cell_x**2 + cell_y**2 <= (0.3 * period) ** 2)


def render_image(name: str, settings: ImageSynthSettings, rng: np.random.Generator) -> np.ndarray:
    """One ``(1, size, size, 3)`` uint8 image of class ``name`` (a one-frame clip)."""
    size = settings.size
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    background = _background(rng, size)
    image = background.copy()
    for _ in range(rng.integers(0, settings.distractors + 1)):  # small blobs of any colour, anywhere
        centre = rng.uniform(0.1, 0.9, 2) * size
        mask = _shape_mask(
            str(rng.choice(("disk", "square", "diamond"))),
            xx - centre[0],
            yy - centre[1],
            rng.uniform(0.03, 0.06) * size,
        )
        image[mask] = _colour(rng)
    centre = rng.uniform(0.35, 0.65, 2) * size
    radius = rng.uniform(0.2, 0.3) * size
    period = max(2.0, PATTERN_PERIOD * size)
    image[_object_mask(name, xx - centre[0], yy - centre[1], radius, period)] = _colour(
        rng, avoid=background[size // 2, size // 2]
    )
    noise = rng.normal(0, settings.noise, image.shape) if settings.noise > 0 else 0
    return np.clip(image + noise, 0, 255).astype(np.uint8)[None]


def render_image_job(settings: ImageSynthSettings, label: int, index: int) -> np.ndarray:
    """Image ``index`` of class ``label``: a function of (seed, label, index) only."""
    rng = np.random.default_rng([settings.seed, label, index, IMAGE_GENERATOR_VERSION])
    return render_image(settings.class_names[label], settings, rng)
