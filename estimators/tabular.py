"""The tabular benchmark file: proxy-training results of many points, in plain HDF5.

Layout (readable with h5py alone; ``format`` names the version)::

    /meta                      attrs: format = "nas-tabular/1", space, space_version,
                               space_settings, data, schedule, seeds, toolkit_version,
                               torch_version, device, command (mappings as JSON text,
                               lists of numbers as arrays)
    /points/<point key>        attrs: one per axis (frames, stride, ...), key, macs, params, input_shape,
                               index (the order the build added points in; HDF5 lists by name)
    /points/<key>/seed_<s>     attrs: top1, val_loss, train_seconds, clips_per_second, train_seed,
                               epochs, failed ("" or the reason), trained (failed runs: 1 if
                               training ran before the failure, 0 if the data could not serve it)
                               datasets (one value per epoch): epoch, val_top1, val_loss,
                               train_loss, seconds (training seconds at the end of that epoch)

``<point key>`` is the point's stable key, e.g.
``frames=4,stride=8,crop=56,width=1.4142,bottleneck=1,depth=1``; training seed
``s`` is the ``--seed`` a search would use, so seed 0 reproduces ``nas search``'s
own accuracies.  Every added run rewrites the file through a temporary copy
renamed into place: a kill at any moment leaves the last complete file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spaces.errors import NasError, RunFailure

from .files import disk_full_note

FORMAT = "nas-tabular/1"
CURVE_FIELDS = ("epoch", "val_top1", "val_loss", "train_loss", "seconds")


class TableError(NasError):
    """A benchmark file that cannot be read or does not match what is asked of it."""


class TableWriteFailure(TableError, RunFailure):
    """A run could not be added to the benchmark file (a full disk): exit 1; the file keeps every earlier run."""


@dataclass(frozen=True)
class Run:
    """One training of one point under one seed."""

    seed: int
    top1: float
    train_seconds: float
    curve: Mapping[str, Sequence[float]] = field(default_factory=dict)
    attrs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> str:
        return str(self.attrs.get("failed", ""))


@dataclass(frozen=True)
class Entry:
    """One point of the table: its coordinates, cost and runs by seed."""

    key: str
    values: Mapping[str, Any]
    macs: int
    params: int
    runs: Mapping[int, Run]


def _json_attr(value: Any) -> Any:
    """As an HDF5 attribute: numbers and strings as they are, lists of numbers as arrays, the rest as JSON text."""
    import numpy as np

    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return value
    if (
        isinstance(value, (list, tuple))
        and value
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        return np.asarray(value)
    return json.dumps(value, sort_keys=True)


def _read_attr(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value.startswith(("[", "{")):
        return json.loads(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def first_line_of(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class Table:
    """A benchmark file read into memory (it is small: a few MB for thousands of runs)."""

    def __init__(self, path: str | os.PathLike) -> None:
        import h5py

        from .files import input_file

        try:
            self.path = input_file(
                path,
                option="benchmark file",
                example="table.h5",
                missing="build one with 'nas bench build --out {path}'",
            )
        except NasError as error:
            raise TableError(str(error)) from None
        try:
            with h5py.File(self.path, "r") as handle:
                self.meta = {k: _read_attr(v) for k, v in handle["meta"].attrs.items()}
                if self.meta.get("format") != FORMAT:
                    raise TableError(
                        f"{self.path} has format {self.meta.get('format')!r}; this toolkit reads {FORMAT!r}"
                    )
                groups = sorted(handle["points"].items(), key=lambda item: int(item[1].attrs.get("index", 0)))
                self.entries = {key: _entry(key, group) for key, group in groups}
        except TableError:
            raise
        except (OSError, KeyError, ValueError, TypeError) as error:
            raise TableError(
                f"{self.path} is not a readable benchmark file ({error}); rebuild it with 'nas bench build'"
            ) from None

    @property
    def seeds(self) -> list[int]:
        return [int(s) for s in self.meta.get("seeds", [])]

    def complete(self, key: str) -> bool:
        entry = self.entries.get(key)
        return entry is not None and all(seed in entry.runs for seed in self.seeds)


def _entry(key: str, group: Any) -> Entry:
    attrs = {k: _read_attr(v) for k, v in group.attrs.items()}
    runs = {}
    for name, run in group.items():
        seed = int(name.split("_", 1)[1])
        run_attrs = {k: _read_attr(v) for k, v in run.attrs.items()}
        curve = {f: [float(x) for x in run[f][()]] for f in CURVE_FIELDS if f in run}
        runs[seed] = Run(
            seed,
            float(run_attrs.get("top1", float("nan"))),
            float(run_attrs.get("train_seconds", 0.0)),
            curve,
            run_attrs,
        )
    values = {k: attrs[k] for k in attrs["axes"]}
    return Entry(key, values, int(attrs["macs"]), int(attrs["params"]), runs)


def create_table(path: str | os.PathLike, meta: Mapping[str, Any]) -> None:
    """A new, empty benchmark file (whole or nothing)."""
    import h5py

    from .files import write_atomically

    def write(tmp: str) -> None:
        with h5py.File(tmp, "w") as handle:
            group = handle.create_group("meta")
            for key, value in {"format": FORMAT, **meta}.items():
                group.attrs[key] = _json_attr(value)
            handle.create_group("points")

    write_atomically(path, write, what="benchmark file")


def add_run(
    path: str | os.PathLike,
    point_attrs: Mapping[str, Any],
    seed: int,
    run_attrs: Mapping[str, Any],
    curve: Iterable[Mapping[str, float]],
) -> None:
    """Add one run to the file through a temporary copy renamed into place (a kill leaves the old file)."""
    import h5py
    import numpy as np

    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".h5", dir=target.parent)
    os.close(fd)
    try:
        shutil.copyfile(target, tmp)
        with h5py.File(tmp, "a") as handle:
            points = handle["points"]
            key = str(point_attrs["key"])
            if key in points:
                group = points[key]
            else:
                group = points.create_group(key)
                group.attrs["index"] = len(points) - 1  # HDF5 lists groups by name: this keeps the build order
            for name, value in point_attrs.items():
                group.attrs[name] = _json_attr(value)
            name = f"seed_{seed}"
            if name in group:
                del group[name]
            run = group.create_group(name)
            for attr, value in run_attrs.items():
                run.attrs[attr] = _json_attr(value)
            epochs = list(curve)
            for field_name in CURVE_FIELDS:
                run.create_dataset(
                    field_name, data=np.array([e.get(field_name, np.nan) for e in epochs], dtype="float64")
                )
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        shutil.copymode(target, tmp)
        os.replace(tmp, target)
    except (OSError, RuntimeError) as error:  # h5py reports some failed writes (a full disk) as RuntimeError
        Path(tmp).unlink(missing_ok=True)
        why = disk_full_note(target.parent) or f": {getattr(error, 'strerror', None) or first_line_of(error)}"
        raise TableWriteFailure(
            f"cannot write the benchmark file {target}{why} (the file keeps every earlier run)"
        ) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
