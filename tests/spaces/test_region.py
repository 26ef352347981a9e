"""The expansion region: a space cut at its base to the side its expansions move to (the dense benchmark's grid)."""

from __future__ import annotations

import pytest

from spaces import get_space
from spaces.errors import InvalidPointError, NasError, SpaceError

SPACES = {"x3d": {"base_crop": 48, "base_stride": 8}, "x2d-image": {"base_crop": 32}}


@pytest.mark.parametrize("name", sorted(SPACES))
def test_every_axis_keeps_the_side_its_expansions_reach(name):
    full = get_space(name, **SPACES[name])
    region = get_space(name, **SPACES[name], region="expansion")
    assert region.base == full.base
    directions = full.expansion_directions()
    for axis in region.axes:
        whole = full.axis(axis.name)
        if directions[axis.name] > 0:
            assert (axis.low, axis.high) == (whole.base, whole.high)
            assert axis.ladder == tuple(v for v in whole.ladder if v >= whole.base)
        else:
            assert (axis.low, axis.high) == (whole.low, whole.base)
            assert axis.ladder == tuple(v for v in whole.ladder if v <= whole.base)


def test_x3d_stride_is_the_axis_expansions_move_down():
    directions = get_space("x3d").expansion_directions()
    assert directions == {"frames": 1, "stride": -1, "crop": 1, "width": 1, "bottleneck": 1, "depth": 1}


@pytest.mark.parametrize("name", sorted(SPACES))
def test_the_region_loses_nothing_a_coordinate_expansion_reaches(name):
    full = get_space(name, **SPACES[name])
    region = get_space(name, **SPACES[name], region="expansion")
    frontier = [region.base]
    for _ in range(2):  # two steps along every operation: the same expansions and partial contractions either way
        grown = []
        for point in frontier:
            assert region.expansions(point) == full.expansions(point)
            for operation, bigger in region.expansions(point).items():
                assert region.contractions(bigger, operation) == full.contractions(bigger, operation)
                grown.append(bigger)
        frontier = grown


def test_points_below_the_base_are_refused_with_the_value():
    region = get_space("x3d", region="expansion")
    with pytest.raises(InvalidPointError, match="width.*0.5"):
        region.point({**region.base.as_dict(), "width": 0.5})
    with pytest.raises(InvalidPointError, match="stride"):
        region.point({**region.base.as_dict(), "stride": region.base["stride"] * 2})


@pytest.mark.parametrize("name", sorted(SPACES))
def test_the_region_is_part_of_the_settings_and_the_full_space_keeps_its_old_ones(name):
    full = get_space(name, **SPACES[name])
    region = get_space(name, **SPACES[name], region="expansion")
    assert "region" not in full.settings()  # searches and tables of the full space keep their identity
    assert region.settings() == {**full.settings(), "region": "expansion"}
    rebuilt = get_space(name, **region.settings())
    assert rebuilt.axes == region.axes and rebuilt.describe() == region.describe()


@pytest.mark.parametrize("name", sorted(SPACES))
def test_the_built_in_presets_all_lie_in_the_region(name):
    assert get_space(name, region="expansion").presets == get_space(name).presets


def test_presets_outside_the_region_are_left_out():
    from spaces import SearchSpace
    from tests.spaces.toy_space import ToySpace

    class Regional(ToySpace):  # a plugin's space that offers the region and has a preset below its base
        def __init__(self, region: str = "full") -> None:
            self.num_classes = 5
            SearchSpace.__init__(self, ToySpace().axes, {"tiny": {}, "small": {"channels": 4}}, region=region)

    assert set(Regional().presets) == {"tiny", "small"} and set(Regional("expansion").presets) == {"tiny"}


def test_an_unknown_region_names_the_choices():
    with pytest.raises(SpaceError, match="'inside' is not one of: full, expansion"):
        get_space("x3d", region="inside")


def test_a_space_without_regions_says_it_does_not_take_the_option():
    from spaces import register_space, unregister_space
    from tests.spaces.toy_space import ToySpace  # a plugin's space: its constructor takes no region

    register_space("toy-without-regions", ToySpace)
    try:
        with pytest.raises(NasError, match="does not accept the options \\['region'\\]"):
            get_space("toy-without-regions", region="expansion")
    finally:
        unregister_space("toy-without-regions")
