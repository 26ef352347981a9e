"""The X3D search space: axes, presets, builder and analytic complexity."""

from .network import X3DArchitecture, X3DBase
from .space import X3DSpace

__all__ = ["X3DArchitecture", "X3DBase", "X3DSpace"]
