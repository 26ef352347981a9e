"""Multi-fidelity strategies: a sampler with an Optuna pruner that stops unpromising trainings early.

The strategy proposes points as its sampler does; the runner reports each
training's top-1 after every epoch and stops the trainings the pruner prunes
(:mod:`nas.pruning`).  Pruned points count as taken, so they are never
proposed again.

- ``hyperband``: random sampling with Hyperband (Li et al., JMLR 2018);
- ``asha``: random sampling with asynchronous successive halving (Li et al., MLSys 2020);
- ``bohb``: TPE with Hyperband, in the spirit of BOHB (Falkner et al., ICML 2018; BOHB fits a density model per
  budget, TPE here learns from every trial, pruned ones at the epoch they reached);
- ``coordinate-sh``: coordinate expansion whose steps halve their candidates part-way through training
  (:mod:`nas.step_halving`).

Pruning happens in live searches (``nas search``, ``nas worker``) and in the tabular comparison, which replays
the table's stored learning curves to the same pruner (:class:`nas.loop.SimulatedPruning`).
"""

from __future__ import annotations

from .coordinate import CoordinateExpansion
from .optuna_sampler import TPESearch
from .random_search import RandomSearch


class HyperbandSearch(RandomSearch):
    """Random search whose trainings Hyperband stops early."""

    name = "hyperband"
    pruner = "hyperband"


class ASHASearch(RandomSearch):
    """Random search whose trainings asynchronous successive halving stops early."""

    name = "asha"
    pruner = "asha"


class BOHBSearch(TPESearch):
    """TPE whose trainings Hyperband stops early; TPE learns from pruned trials at the epoch they reached."""

    name = "bohb"
    pruner = "hyperband"


class HalvingCoordinateExpansion(CoordinateExpansion):
    """Coordinate expansion whose steps halve their candidates at a third of the proxy's epochs.

    The proposals are coordinate expansion's; the step-halving pruner (:mod:`nas.step_halving`) stops the
    candidates of a step that are not in its better half at the rung, and the step decides among those that
    trained to the end.  Its options (selection, tie rule) are coordinate expansion's.
    """

    name = "coordinate-sh"
    pruner = "step-halving"
