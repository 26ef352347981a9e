"""The X2D image space: X3D's 2D counterpart, expanding resolution, width, bottleneck and depth."""

from .network import ImageArchitecture, ImageBase
from .space import X2DImageSpace

__all__ = ["ImageArchitecture", "ImageBase", "X2DImageSpace"]
