"""Type checks for a space's base-network settings, which users give as text (``--space-option``, YAML).

A setting of the wrong kind (``head_width=nan``, ``stage_blocks=3``) must fail
when the space is made, naming the setting, instead of deep inside a builder
or a complexity formula.  The expected kind is the field's default's.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, fields
from typing import Any

from .errors import SpaceError


def check_setting_types(settings: Any, what: str) -> None:
    """Raise :class:`SpaceError` naming the first field of the dataclass ``settings``
    whose value is of the wrong kind."""
    for field in fields(settings):
        if field.default is MISSING:
            continue
        value = getattr(settings, field.name)
        expected = _kind(field.default)
        if not _matches(value, field.default):
            raise SpaceError(f"{what}: setting {field.name} must be {expected}, got {value!r}")


def _kind(default: Any) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "a whole number"
    if isinstance(default, float):
        return "a finite number"
    if isinstance(default, tuple):
        return f"a list like {list(default)}"
    return f"a {type(default).__name__}"


def _matches(value: Any, default: Any) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if isinstance(default, tuple):
        return isinstance(value, (list, tuple)) and len(value) > 0 and all(_matches(v, default[0]) for v in value)
    return isinstance(value, type(default))
