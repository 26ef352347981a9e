"""Benchmark tables that ship with the package, so ``nas bench`` works without a checkout.

``x3d_dense.h5`` is the tabular benchmark ``nas bench compare`` and ``nas bench fidelity`` read by default: the
X3D space's ``region=expansion`` sub-space trained whole on the default data and proxy under three training seeds
(its format: ``estimators.tabular``).  ``x3d_synth.h5``, the earlier default, is a sparse sample of the full
space on the motion-only data and the 3-epoch proxy; it stays because the worker and latency benchmarks'
committed figures were measured on it.
"""

from __future__ import annotations

from pathlib import Path

#: The file name of the default table.
DEFAULT_TABLE_NAME = "x3d_dense.h5"
#: The earlier default (old data and proxy), kept for the benchmarks measured on it.
OLD_DEFAULT_TABLE_NAME = "x3d_synth.h5"


def default_table() -> Path:
    """The installed default table (a real file: setuptools installs package data unzipped)."""
    return installed_table(DEFAULT_TABLE_NAME)


def installed_table(name: str) -> Path:
    """The installed table called ``name``, looked up through the package so a wheel install finds it too."""
    from importlib.resources import files

    return Path(str(files(__name__) / name))
