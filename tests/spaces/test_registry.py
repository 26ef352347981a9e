"""The space registry, including third-party spaces found through real entry points."""

from __future__ import annotations

import textwrap

import pytest

from spaces import (
    ENTRY_POINT_GROUP,
    NasError,
    SearchSpace,
    UnknownNameError,
    get_space,
    list_spaces,
    register_space,
)
from spaces.registry import PluginError

PLUGIN_MODULE = """
from tests.spaces.toy_space import ToySpace

class PluginSpace(ToySpace):
    name = "plugged"

def broken(**options):
    raise RuntimeError("boom")
"""


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """A package installed the way pip lays one out: a module plus a .dist-info with entry_points.txt."""
    (tmp_path / "nas_plugin_example.py").write_text(PLUGIN_MODULE)
    info = tmp_path / "nas_plugin_example-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: nas-plugin-example\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent(f"""\
        [{ENTRY_POINT_GROUP}]
        plugged = nas_plugin_example:PluginSpace
        broken = nas_plugin_example:broken
        """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_builtin_x3d_is_listed():
    assert "x3d" in list_spaces()
    assert isinstance(get_space("x3d"), SearchSpace)


def test_entry_point_plugin_is_listed_and_built(installed_plugin):
    assert {"plugged", "broken"} <= set(list_spaces())
    space = get_space("plugged", num_classes=3)
    assert space.name == "plugged" and space.complexity(space.base).params > 0


def test_broken_plugin_gives_a_clear_error(installed_plugin):
    with pytest.raises(NasError, match="boom"):
        get_space("broken")


def test_unloadable_plugin_names_its_source(monkeypatch):
    register_space("ghost", "no_such_module_anywhere:Space", replace=True)
    try:
        with pytest.raises(PluginError, match="no_such_module_anywhere"):
            get_space("ghost")
    finally:
        from spaces import unregister_space

        unregister_space("ghost")


def test_unknown_space_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match=r"unknown space 'x4d'.*x3d.*nas\.spaces"):
        get_space("x4d")


def test_bad_options_are_reported():
    with pytest.raises(NasError, match="no_such_option"):
        get_space("x3d", no_such_option=1)


def test_registering_twice_needs_replace():
    with pytest.raises(NasError, match="already registered"):
        register_space("x3d", object)
