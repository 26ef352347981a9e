"""The estimator contract: what a candidate costs and how good it is.

An estimator answers ``evaluate(space, point, fidelity)`` with a
:class:`Measurement`, and names everything that affects its answers in
``fingerprint()`` (data, schedule, seed, code version), so a ledger never
measures the same point twice under the same settings.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from spaces import Point, SearchSpace
from spaces._version import __version__


@dataclass(frozen=True)
class Measurement:
    """The result of evaluating one point: named metrics plus how it was obtained."""

    point: Point
    metrics: Mapping[str, float]
    fidelity: float | None = None
    seconds: float = 0.0
    info: Mapping[str, Any] = field(default_factory=dict)
    #: The trained network's state dict, where the estimator was asked to keep it (inherited weights); never
    #: written to the ledger as an attribute: it goes to the checkpoint store.
    weights: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)


def fingerprint_of(kind: str, settings: Mapping[str, Any]) -> str:
    """A short stable hash of an estimator's kind, settings and the code version."""
    payload = json.dumps(
        {"kind": kind, "settings": dict(settings), "version": __version__}, sort_keys=True, default=str
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


class Estimator(ABC):
    """Evaluates points of any space; subclasses say what they measure."""

    name: str = ""

    @abstractmethod
    def evaluate(self, space: SearchSpace, point: Point, fidelity: float | None = None) -> Measurement:
        """Measure ``point`` of ``space`` (``fidelity``: epochs or clips, where it applies)."""

    #: True if :meth:`evaluate` takes an ``on_step`` callback (training progress for a display).
    reports_progress: bool = False

    @abstractmethod
    def fingerprint(self, fidelity: float | None = None) -> str:
        """Changes whenever anything that affects :meth:`evaluate`'s results (at ``fidelity``) changes."""
