"""Rounding rules shared by the X3D builder and its analytic complexity.

These are the rules of the original X3D code (facebookresearch/SlowFast,
2020): both the network builder and the complexity functions call them, so a
width or depth can never be computed two different ways.
"""

from __future__ import annotations

import math

#: Tolerance for products such as 5 * 2.2 that land a hair above a whole number.
_CEIL_EPSILON = 1e-9


def round_width(width: float, multiplier: float, *, min_width: int = 8, divisor: int = 8) -> int:
    """Scale a channel count and round it to a multiple of ``divisor``, never below ``min_width``.

    Rounds to the nearest multiple, then adds one divisor when that lost more
    than 10 % (the EfficientNet/X3D rule).  Divisor 8 is the original X3D code's;
    a later SlowFast change to 1 breaks the published wider models.
    """
    scaled = width * multiplier
    rounded = max(min_width, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return int(rounded)


def inner_width(out_width: int, bottleneck: float) -> int:
    """Inner (depthwise) width of a block: floor(gamma_b * out), not rounded (2.25 * 24 = 54)."""
    return int(math.floor(bottleneck * out_width + _CEIL_EPSILON))


def blocks_per_stage(base_blocks: int, depth: float) -> int:
    """Blocks of a stage: ceil(gamma_d * base) (2.2 * [1, 2, 5, 3] = [3, 5, 11, 7])."""
    return int(math.ceil(depth * base_blocks - _CEIL_EPSILON))


def round_to_multiple(value: float, multiple: int) -> int:
    """Nearest multiple (halves round up), at least one multiple: crops 158.4 -> 160."""
    return max(multiple, int(math.floor(value / multiple + 0.5)) * multiple)
