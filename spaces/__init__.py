"""Search spaces: axes, points, the X3D space, model builders, analytic complexity.

Importing this package imports neither torch nor optuna; models are built and
libraries exported only on request.  Reuse a space in another project with::

    from spaces import get_space
    space = get_space("x3d")
    model = space.build(space.preset("XS"), num_classes=400)

or rebuild a model ``nas export`` wrote with ``build_exported("best.yaml")``.
"""

from .axis import Axis
from .complexity import Complexity
from .errors import (
    ExpansionError,
    InvalidPointError,
    NasError,
    SpaceError,
    UnknownNameError,
)
from .exported import ExportedModel, build_exported, load_exported
from .operations import AxisStep, Operation
from .point import Point
from .registry import (
    ENTRY_POINT_GROUP,
    get_space,
    list_spaces,
    register_space,
    unregister_space,
)
from .space import ClipSpec, SearchSpace

__all__ = [
    "Axis",
    "AxisStep",
    "ClipSpec",
    "Complexity",
    "ENTRY_POINT_GROUP",
    "ExpansionError",
    "ExportedModel",
    "InvalidPointError",
    "NasError",
    "Operation",
    "Point",
    "SearchSpace",
    "SpaceError",
    "UnknownNameError",
    "build_exported",
    "get_space",
    "list_spaces",
    "load_exported",
    "register_space",
    "unregister_space",
]
