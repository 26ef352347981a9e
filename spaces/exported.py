"""Exported models: one chosen point with its space, readable with the standard library alone.

``nas export`` writes a small YAML file; another project rebuilds the model
in one call, importing nothing but torch and this package::

    from spaces import build_exported
    model = build_exported("best.yaml")          # a plain torch.nn.Module

The file is YAML whose every value is written as JSON (valid YAML, one
``key: value`` per line, ``#`` comments), so :func:`load_exported` parses it
without PyYAML, and any YAML or JSON tool reads the values.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import SpaceError

FORMAT = "nas-export/1"
#: Keys every export carries; the rest (accuracies, study, ...) are information.
REQUIRED = ("format", "space", "space_version", "settings", "point")


@dataclass(frozen=True)
class ExportedModel:
    """What an export file names: a space (name, version, constructor settings) and a point in it."""

    space_name: str
    space_version: str
    settings: Mapping[str, Any]
    values: Mapping[str, Any]
    info: Mapping[str, Any] = field(default_factory=dict)

    def space(self):
        """The space, rebuilt with the settings it was searched with; refuses another version of it."""
        from .registry import get_space

        space = get_space(self.space_name, **dict(self.settings))
        if str(space.version) != str(self.space_version):
            raise SpaceError(
                f"the export was made with {self.space_name} space version {self.space_version}, "
                f"this toolkit has version {space.version}; rebuild it with the matching toolkit"
            )
        return space

    def point(self):
        return self.space().point(dict(self.values))

    def build(self, num_classes: int | None = None):
        """The model as a plain ``torch.nn.Module`` (``num_classes`` replaces the searched classifier's size)."""
        space = self.space()
        return space.build(space.point(dict(self.values)), num_classes)


def format_exported(fields: Mapping[str, Any], comments: tuple[str, ...] = ()) -> str:
    """The text of an export file: ``#`` comment lines, then one ``key: <JSON>`` line per field."""
    missing = [key for key in REQUIRED if key not in fields and key != "format"]
    if missing:
        raise SpaceError(f"an export needs {', '.join(missing)}")
    lines = [f"# {line}" for line in comments]
    lines += [f"{key}: {json.dumps(value, sort_keys=True)}" for key, value in {"format": FORMAT, **fields}.items()]
    return "\n".join(lines) + "\n"


def parse_exported(text: str, source: str = "the export") -> ExportedModel:
    fields: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition(":")
        try:
            if not sep:
                raise ValueError("no 'key: value'")
            fields[key.strip()] = json.loads(value)
        except ValueError as error:
            raise SpaceError(
                f"{source}, line {number}, is not a nas export line ({error}): {stripped[:60]!r}; "
                "re-export it with 'nas export'"
            ) from None
    missing = [key for key in REQUIRED if key not in fields]
    if missing:
        raise SpaceError(f"{source} is not a nas export: it lacks {', '.join(missing)}; re-export it with 'nas export'")
    if fields["format"] != FORMAT:
        raise SpaceError(f"{source} has format {fields['format']!r}; this toolkit reads {FORMAT!r}")
    if not isinstance(fields["settings"], dict) or not isinstance(fields["point"], dict):
        raise SpaceError(f"{source}: 'settings' and 'point' must be mappings")
    info = {k: v for k, v in fields.items() if k not in REQUIRED}
    return ExportedModel(str(fields["space"]), str(fields["space_version"]), fields["settings"], fields["point"], info)


def load_exported(path: str | os.PathLike) -> ExportedModel:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise SpaceError(f"cannot read the export {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise SpaceError(
            f"{path} is not a nas export: it is not UTF-8 text (a binary file?); give the YAML file 'nas export' wrote"
        ) from None
    return parse_exported(text, source=str(path))


def build_exported(path: str | os.PathLike, num_classes: int | None = None):
    """The exported model of ``path`` as a plain ``torch.nn.Module``, in one call."""
    return load_exported(path).build(num_classes)
