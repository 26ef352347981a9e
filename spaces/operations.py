"""Expansion operations: the named moves a coordinate-expansion search makes.

A generic space expands one axis one ladder step at a time
(:class:`AxisStep`).  A space may define richer moves that change several
coordinates together, such as X3D's X-Fast (twice the frames at half the
stride).  Every operation knows its expansion, its one-step contraction and
the partial contractions between the two, which backward contraction uses.
An operation returns ``None`` where it does not apply (top of a ladder).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

from .axis import Axis, Value
from .point import Point


class Operation(ABC):
    """A named expansion move; ``name`` is what strategies, ledgers and the CLI use."""

    name: str
    label: str

    @abstractmethod
    def expand(self, axes: Mapping[str, Axis], point: Point) -> dict[str, Value] | None:
        """Coordinates changed by one expansion step, or None if it does not apply."""

    @abstractmethod
    def contract(self, axes: Mapping[str, Axis], point: Point) -> dict[str, Value] | None:
        """Coordinates changed by one contraction step, or None if it does not apply."""

    @abstractmethod
    def partial_contractions(self, axes: Mapping[str, Axis], point: Point) -> list[dict[str, Value]]:
        """Changes strictly between ``point`` and its one-step contraction, largest first."""


@dataclass(frozen=True)
class AxisStep(Operation):
    """Move one axis one ladder level up (expand) or down (contract)."""

    axis: str
    name: str = ""
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", self.name or self.axis)
        object.__setattr__(self, "label", self.label or self.name)

    def expand(self, axes: Mapping[str, Axis], point: Point) -> dict[str, Value] | None:
        value = axes[self.axis].step_up(point[self.axis])
        return None if value is None else {self.axis: value}

    def contract(self, axes: Mapping[str, Axis], point: Point) -> dict[str, Value] | None:
        value = axes[self.axis].step_down(point[self.axis])
        return None if value is None else {self.axis: value}

    def partial_contractions(self, axes: Mapping[str, Axis], point: Point) -> list[dict[str, Value]]:
        axis = axes[self.axis]
        lower = axis.step_down(point[self.axis])
        if lower is None:
            return []
        return [{self.axis: value} for value in axis.between(point[self.axis], lower)]
