"""The space registry: built-in spaces plus any installed through the ``nas.spaces`` entry points.

A third-party package adds a space without touching this code::

    [project.entry-points."nas.spaces"]
    myspace = "my_package.spaces:MySpace"

The entry point names a :class:`~spaces.space.SearchSpace` subclass or any
callable returning one; keyword options (``get_space("x3d", num_classes=10)``)
are passed to it.  Entry points are read lazily, on the first look-up.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points

from .errors import NasError, unknown_name
from .space import SearchSpace

ENTRY_POINT_GROUP = "nas.spaces"

#: Built-in spaces, as "module:attribute" so that nothing is imported until used.
BUILTIN_SPACES: dict[str, str] = {
    "x3d": "spaces.x3d.space:X3DSpace",
    "x2d-image": "spaces.image.space:X2DImageSpace",
}

SpaceFactory = Callable[..., SearchSpace]
_registered: dict[str, SpaceFactory | str] = {}


class PluginError(NasError):
    """An installed space plugin could not be loaded."""


def register_space(name: str, factory: SpaceFactory | str, *, replace: bool = False) -> None:
    """Register a space factory (a class, a callable or ``"module:attr"``) under ``name``."""
    if not name or not name.replace("-", "_").isidentifier():
        raise NasError(f"space name {name!r} must be a word of letters, digits, '_' or '-'")
    if not replace and name in _all_sources():
        raise NasError(f"space {name!r} is already registered; pass replace=True to override it")
    _registered[name] = factory


def unregister_space(name: str) -> None:
    """Remove a space registered with :func:`register_space` (for tests and notebooks)."""
    _registered.pop(name, None)


def _plugin_sources() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _all_sources() -> dict[str, SpaceFactory | str]:
    return {**_plugin_sources(), **BUILTIN_SPACES, **_registered}


def list_spaces() -> list[str]:
    """Names of every available space, built-in, installed or registered, sorted."""
    return sorted(_all_sources())


def _load(name: str, source: SpaceFactory | str) -> SpaceFactory:
    if not isinstance(source, str):
        return source
    module_name, _, attribute = source.partition(":")
    try:
        target = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except Exception as error:  # a broken plugin must not take the toolkit down
        raise PluginError(f"space {name!r} ({source}) failed to load: {type(error).__name__}: {error}") from error
    return target


def require_space(name: str) -> None:
    """Raise the unknown-name error (with the names there are) unless a space ``name`` is available."""
    sources = _all_sources()
    if name not in sources:
        raise unknown_name(
            "space",
            name,
            sorted(sources),
            hint=(
                "Other spaces are added by installing a package that registers them under the "
                f"{ENTRY_POINT_GROUP!r} entry points."
            ),
        )


def get_space(name: str, **options: object) -> SearchSpace:
    """The space registered as ``name``, constructed with ``options``."""
    require_space(name)
    factory = _load(name, _all_sources()[name])
    try:
        space = factory(**options)
    except NasError:
        raise
    except TypeError as error:
        raise NasError(f"space {name!r} does not accept the options {sorted(options)}: {error}") from None
    except Exception as error:  # a plugin's own failure: one line for users, chained for debugging
        raise PluginError(f"space {name!r} failed to construct: {type(error).__name__}: {error}") from error
    if not isinstance(space, SearchSpace):
        raise PluginError(f"space {name!r} factory returned {type(space).__name__}, not a SearchSpace")
    return space
