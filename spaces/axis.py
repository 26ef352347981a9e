"""Axes: one named, validated coordinate of a search space.

An axis knows its valid range, its base value and a *ladder* of expansion
levels.  A point may take any value in range (backward contraction lands
between ladder levels, users evaluate a 13-frame or 256-pixel model), while
strategies move along the ladder.  Values are canonicalised on validation
(integers stay ``int``; floats are rounded to :data:`FLOAT_DECIMALS`) so that
equal architectures always have equal keys.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Union

from .errors import InvalidPointError, SpaceError

Value = Union[int, float]

#: Decimal places kept for float coordinates: enough to tell sqrt(2) steps
#: apart, few enough that keys and encodings round-trip exactly.
FLOAT_DECIMALS = 4

#: Number of sub-steps offered between two ladder levels of a float axis when
#: contracting by less than one step.
FLOAT_SUBSTEPS = 8


def canonical_float(value: float) -> float:
    """Round a float coordinate to the precision every key and encoding uses."""
    return float(round(float(value), FLOAT_DECIMALS))


def format_value(value: Value) -> str:
    """Stable text of a coordinate: ``13``, ``2.25``, ``1`` (floats without a trailing .0)."""
    if isinstance(value, int):
        return str(value)
    text = repr(canonical_float(value))
    return text[:-2] if text.endswith(".0") else text


@dataclass(frozen=True)
class Axis:
    """A named coordinate with a valid range, a base value and an expansion ladder.

    ``integer`` axes hold whole numbers (frames, stride, crop); the others hold
    multipliers.  ``log`` (default) makes sampling and encoding uniform in the
    logarithm, which is how multiplicative axes such as X3D's behave.
    ``quantum`` is the granularity of contraction by less than a step on an
    integer axis (crops move in multiples of 8).
    """

    name: str
    integer: bool
    low: Value
    high: Value
    base: Value
    ladder: tuple[Value, ...]
    description: str = ""
    symbol: str = ""
    log: bool = True
    quantum: int = 1
    _ladder_set: frozenset = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise SpaceError(f"axis name {self.name!r} must be a Python identifier")
        convert = int if self.integer else canonical_float
        for attr in ("low", "high", "base"):
            object.__setattr__(self, attr, convert(getattr(self, attr)))
        object.__setattr__(self, "ladder", tuple(convert(v) for v in self.ladder))
        if not self.low < self.high:
            raise SpaceError(f"axis {self.name!r}: low {self.low} must be below high {self.high}")
        if self.log and self.low <= 0:
            raise SpaceError(f"axis {self.name!r}: a log-scaled axis needs low > 0, got {self.low}")
        if not self.low <= self.base <= self.high:
            raise SpaceError(f"axis {self.name!r}: base {self.base} outside [{self.low}, {self.high}]")
        if list(self.ladder) != sorted(set(self.ladder)):
            raise SpaceError(f"axis {self.name!r}: ladder {self.ladder} must be strictly ascending")
        if not self.ladder or self.ladder[0] < self.low or self.ladder[-1] > self.high:
            raise SpaceError(f"axis {self.name!r}: ladder {self.ladder} must lie in [{self.low}, {self.high}]")
        if self.base not in self.ladder:
            raise SpaceError(f"axis {self.name!r}: ladder {self.ladder} must contain the base {self.base}")
        if self.quantum < 1:
            raise SpaceError(f"axis {self.name!r}: quantum must be >= 1, got {self.quantum}")
        object.__setattr__(self, "_ladder_set", frozenset(self.ladder))

    # -- validation -----------------------------------------------------
    def validate(self, value: object) -> Value:
        """Return the canonical value, or raise naming this axis and the bad value."""
        if isinstance(value, bool) or not isinstance(value, Real):
            raise InvalidPointError(
                f"axis {self.name!r}: {value!r} is not a number (expected "
                f"{'a whole number' if self.integer else 'a number'} in [{self.low}, {self.high}])"
            )
        number = float(value)
        if not math.isfinite(number):
            raise InvalidPointError(f"axis {self.name!r}: {value!r} is not a finite number")
        if self.integer:
            if not isinstance(value, Integral) and not number.is_integer():
                raise InvalidPointError(f"axis {self.name!r}: {value!r} is not a whole number")
            canonical: Value = int(number)
        else:
            canonical = canonical_float(number)
        if not self.low <= canonical <= self.high:
            raise InvalidPointError(
                f"axis {self.name!r}: {format_value(canonical)} is outside the valid range "
                f"[{format_value(self.low)}, {format_value(self.high)}]"
            )
        return canonical

    def parse(self, text: str) -> Value:
        """Parse a coordinate typed by a user (``'13'``, ``'2.25'``) and validate it."""
        stripped = text.strip()
        try:
            number: Value = int(stripped) if self.integer and stripped.lstrip("+-").isdigit() else float(stripped)
        except ValueError:
            raise InvalidPointError(f"axis {self.name!r}: {text!r} is not a number") from None
        return self.validate(number)

    # -- ladder moves ---------------------------------------------------
    def on_ladder(self, value: Value) -> bool:
        return value in self._ladder_set

    def step_up(self, value: Value) -> Value | None:
        """The next ladder level strictly above ``value``, or None at the top."""
        return next((level for level in self.ladder if level > value), None)

    def step_down(self, value: Value) -> Value | None:
        """The next ladder level strictly below ``value``, or None at the bottom."""
        return next((level for level in reversed(self.ladder) if level < value), None)

    def between(self, start: Value, stop: Value) -> tuple[Value, ...]:
        """Valid values strictly between two values, ordered from ``start`` towards ``stop``.

        These are the landing points of a contraction by less than one step:
        every ``quantum`` on an integer axis, :data:`FLOAT_SUBSTEPS` steps
        (geometric on a log axis) on a float axis.
        """
        lo, hi = sorted((start, stop))
        if self.integer:
            first = (int(lo) // self.quantum + 1) * self.quantum
            values: list[Value] = list(range(first, int(hi), self.quantum))
        else:
            values = [self.validate(v) for v in self._interpolate(lo, hi)]
            values = sorted({v for v in values if lo < v < hi})
        return tuple(values if start < stop else reversed(values))

    def _interpolate(self, lo: float, hi: float) -> list[float]:
        fractions = [k / FLOAT_SUBSTEPS for k in range(1, FLOAT_SUBSTEPS)]
        if self.log:
            return [math.exp(math.log(lo) + f * (math.log(hi) - math.log(lo))) for f in fractions]
        return [lo + f * (hi - lo) for f in fractions]

    # -- numeric views ----------------------------------------------------
    def _scale(self, value: float) -> float:
        return math.log(value) if self.log else float(value)

    def encode(self, value: Value) -> float:
        """Map a value to [0, 1] (logarithmic on log axes), for predictors."""
        lo, hi = self._scale(self.low), self._scale(self.high)
        return (self._scale(value) - lo) / (hi - lo)

    def decode(self, code: float) -> Value:
        """Inverse of :meth:`encode`, snapped to a valid value (codes outside [0, 1] are clipped)."""
        lo, hi = self._scale(self.low), self._scale(self.high)
        scaled = lo + min(max(float(code), 0.0), 1.0) * (hi - lo)
        raw = math.exp(scaled) if self.log else scaled
        raw = min(max(raw, self.low), self.high)
        return self.validate(round(raw) if self.integer else raw)

    def sample(self, rng: random.Random, on_ladder: bool = True) -> Value:
        """A random value: a uniform ladder level, or uniform (in log) over the whole range."""
        if on_ladder:
            return rng.choice(self.ladder)
        return self.decode(rng.random())
