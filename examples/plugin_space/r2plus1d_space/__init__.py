"""An R(2+1)D search space for videonas, registered through the ``nas.spaces`` entry point.

Installing this package (``pip install examples/plugin_space``) adds the space
``r2plus1d`` to ``nas space list`` and ``nas search --space r2plus1d``
without touching videonas.  Importing it imports neither torch nor videonas's
search machinery: only :mod:`spaces`, the framework's lowest layer.
"""

from .network import R2Plus1DArchitecture, R2Plus1DBase
from .space import R2Plus1DSpace

__all__ = ["R2Plus1DArchitecture", "R2Plus1DBase", "R2Plus1DSpace"]
