"""Multi-fidelity search in live searches: Optuna's pruners stop unpromising trainings after an epoch.

A strategy that names a ``pruner`` (``hyperband``, ``asha``, ``bohb``) has
every training report its validation top-1 after each whole epoch to the
ledger (Optuna's intermediate values), and asks the pruner, which reads every
worker's trials from the ledger, whether to stop there.  A stopped training
is recorded as *pruned*, with the epoch it reached (``pruned_at_epoch``), its
last top-1 (``pruned_top1``) and the seconds it trained: it costs only those.

- ``asha``: Optuna's :class:`~optuna.pruners.SuccessiveHalvingPruner`, the
  asynchronous successive halving of Li et al. (MLSys 2020): rungs at 1, 3,
  9, ... epochs, a trial continues past a rung only if it is in the top third
  of the trials that reached it;
- ``hyperband``: :class:`~optuna.pruners.HyperbandPruner` (Li et al., JMLR
  2018), several successive-halving brackets of different aggressiveness;
- ``median``: :class:`~optuna.pruners.MedianPruner`, stop below the median of
  earlier trials at the same epoch;
- ``step-halving``: successive halving among the candidates of each coordinate
  step (:mod:`nas.step_halving`), the pruner of ``coordinate-sh``.

Pruning decisions depend on which trials had finished when a rung was
reached, so, as with any asynchronous method, several workers (or a resumed
search, whose retried trial gets a new number and Hyperband bracket) may
prune differently than one uninterrupted process; no finished or pruned trial
is lost or trained again.
"""

from __future__ import annotations

import math
from typing import Any

from spaces.errors import NasError

#: Rungs grow by this factor (Optuna's default for both pruners, and the papers').
REDUCTION_FACTOR = 3
PRUNERS = ("asha", "hyperband", "median", "step-halving")


def make_pruner(name: str, max_epochs: float) -> Any:
    """The Optuna pruner ``name`` for trainings of ``max_epochs`` epochs (reported after each whole epoch)."""
    import optuna

    if name not in PRUNERS:
        raise NasError(f"unknown pruner {name!r}; choose one of: {', '.join(PRUNERS)}")
    if max_epochs < 2:
        raise NasError(
            f"pruning needs trainings of at least 2 epochs (it decides after each whole epoch), "
            f"got {max_epochs:g}; give --epochs 2 or more"
        )
    if name == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=REDUCTION_FACTOR)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=math.ceil(max_epochs), reduction_factor=REDUCTION_FACTOR
        )
    if name == "step-halving":
        from .step_halving import StepHalvingPruner, rung_epoch

        return StepHalvingPruner(rung_epoch(max_epochs))
    return optuna.pruners.MedianPruner(n_startup_trials=REDUCTION_FACTOR, n_warmup_steps=0)
