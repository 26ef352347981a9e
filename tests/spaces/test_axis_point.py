"""Axes and points on their own: validation, ladders, encoding, keys."""

from __future__ import annotations

import random

import pytest

from spaces import Axis, InvalidPointError, Point, SpaceError
from spaces.axis import format_value


def frames() -> Axis:
    return Axis("frames", True, 1, 64, base=1, ladder=(1, 2, 4, 8, 16, 32, 64))


def width() -> Axis:
    return Axis("width", False, 0.5, 4, base=1, ladder=(0.5, 0.7071, 1, 1.4142, 2))


def test_validation_canonicalises_and_names_the_value():
    assert frames().validate(13) == 13 and isinstance(frames().validate(13.0), int)
    assert width().validate(1.41421356) == 1.4142
    with pytest.raises(InvalidPointError, match=r"axis 'frames': 13.5 is not a whole number"):
        frames().validate(13.5)
    with pytest.raises(InvalidPointError, match=r"axis 'frames': 65 is outside the valid range \[1, 64\]"):
        frames().validate(65)
    with pytest.raises(InvalidPointError, match="is not a number"):
        frames().parse("twelve")
    assert frames().parse(" 13 ") == 13 and width().parse("2.25") == 2.25


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"low": 4, "high": 2}, "below high"),
        ({"base": 99}, "base 99 outside"),
        ({"ladder": (2, 1)}, "strictly ascending"),
        ({"ladder": (2, 4)}, "contain the base"),
        ({"low": 0, "ladder": (1,), "base": 1}, "log-scaled axis needs low > 0"),
        ({"name": "two words"}, "identifier"),
    ],
)
def test_bad_axis_definitions_are_refused(kwargs, message):
    settings = {"name": "a", "integer": True, "low": 1, "high": 8, "base": 1, "ladder": (1, 2, 4, 8)} | kwargs
    with pytest.raises(SpaceError, match=message):
        Axis(**settings)


def test_ladder_steps_from_any_value():
    axis = frames()
    assert axis.step_up(13) == 16 and axis.step_down(13) == 8
    assert axis.step_up(64) is None and axis.step_down(1) is None
    assert axis.between(16, 8) == (15, 14, 13, 12, 11, 10, 9)
    assert axis.between(8, 16) == (9, 10, 11, 12, 13, 14, 15)
    crop = Axis("crop", True, 32, 448, base=112, ladder=(112, 160, 224), quantum=8)
    assert crop.between(224, 160) == (216, 208, 200, 192, 184, 176, 168)


def test_float_between_is_geometric_and_strict():
    values = width().between(1.4142, 1.0)
    assert len(values) == 7 and all(1.0 < v < 1.4142 for v in values)
    assert list(values) == sorted(values, reverse=True)


def test_encode_decode_round_trips_every_integer():
    axis = frames()
    for value in range(1, 65):
        assert axis.decode(axis.encode(value)) == value
    assert axis.decode(-3) == 1 and axis.decode(7) == 64


def test_sampling_covers_the_range():
    rng = random.Random(0)
    values = {frames().sample(rng, on_ladder=False) for _ in range(500)}
    assert min(values) <= 2 and max(values) >= 50 and len(values) > 40


def test_point_key_hash_and_replace():
    point = Point([("frames", 4), ("width", 1.0)])
    assert point.key == "frames=4,width=1" and format_value(2.25) == "2.25"
    assert point == Point([("frames", 4), ("width", 1.0)]) and len({point, Point([("frames", 4), ("width", 1.0)])}) == 1
    assert point.replace(frames=8)["frames"] == 8 and point["frames"] == 4
    with pytest.raises(KeyError):
        point.replace(nope=1)
    with pytest.raises(ValueError, match="duplicate"):
        Point([("frames", 1), ("frames", 2)])
