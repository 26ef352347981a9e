"""Benchmark tables that ship with the package, so ``nas bench`` works without a checkout.

``x3d_synth.h5`` is the tabular benchmark ``nas bench compare`` and ``nas bench
fidelity`` read by default (its format: ``estimators.tabular``).
"""

from __future__ import annotations

from pathlib import Path

#: The file name of the default table.
DEFAULT_TABLE_NAME = "x3d_synth.h5"


def default_table() -> Path:
    """The installed default table (a real file: setuptools installs package data unzipped)."""
    from importlib.resources import files

    return Path(str(files(__name__) / DEFAULT_TABLE_NAME))
