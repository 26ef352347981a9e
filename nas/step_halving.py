"""Successive halving inside each coordinate step: the pruner of ``coordinate-sh``.

A coordinate step trains one candidate per operation from the same parent and
keeps the best.  Successive halving (Jamieson and Talwalkar, AISTATS 2016)
trains every arm briefly and only the better half further.  Here the arms are
a step's first-seed candidates and the rung is a third of the proxy's epochs
(epoch 2 of the default 6): at the rung, a candidate goes on only if its top-1
there is in the better half of its step's candidates that reached the rung,
itself included (ties go on).  The candidates of a step are trained one after
another, so the halving is asynchronous, as in ASHA (Li et al., MLSys 2020):
a candidate is judged against those of its step trained before it, and the
first always goes on.  On average a little over half of a step's candidates
train to the end.

Only first-seed candidates are judged: the base, the contraction and the extra
seeds of a tie (``--tie-rule reseed``) always train to the end, since the step
has already chosen to measure them fully.  A pruned candidate is out of its
step (the step decides among the candidates that finished) and is recorded as
pruned, at its epoch, costing the epochs it trained (:mod:`nas.pruning`).

The judgement reads only the trials of the study, so a resumed search judges
a retried candidate against the same earlier candidates as an uninterrupted
one (an interrupted earlier attempt of the same point is not its own peer).
"""

from __future__ import annotations

import json
import math
from typing import Any

import optuna

#: The rung, as a share of the proxy's epochs (at least epoch 1).
RUNG_SHARE = 1 / 3
#: Trial states whose rung value counts: finished either way, or still training (another worker).
_PEER_STATES = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.RUNNING)


def rung_epoch(max_epochs: float) -> int:
    """The epoch at which a step's candidates are halved: a third of the schedule, at least the first."""
    return max(1, math.floor(max_epochs * RUNG_SHARE))


def _judged(trial: optuna.trial.FrozenTrial) -> bool:
    """A step's first-seed candidate (the only trials halving stops)."""
    attrs = trial.user_attrs
    return attrs.get("role") == "candidate" and not attrs.get("tie_break") and int(attrs.get("repeat", 0) or 0) == 0


def _step_of(trial: optuna.trial.FrozenTrial) -> tuple[Any, Any]:
    return trial.user_attrs.get("step"), trial.user_attrs.get("parent")


def _point_of(trial: optuna.trial.FrozenTrial) -> str:
    """The trial's point: its ``point`` attribute (simulated trials) or its parameters (the ledger's)."""
    return str(trial.user_attrs.get("point") or json.dumps(trial.params, sort_keys=True))


class StepHalvingPruner(optuna.pruners.BasePruner):
    """Stops a coordinate candidate at the rung unless it is in the better half of its step so far."""

    def __init__(self, rung: int) -> None:
        if rung < 1:
            raise ValueError(f"the rung must be epoch 1 or later, got {rung}")
        self.rung = rung

    def prune(self, study: optuna.study.Study, trial: optuna.trial.FrozenTrial) -> bool:
        if trial.last_step != self.rung or not _judged(trial):
            return False
        mine, step, point = trial.intermediate_values[self.rung], _step_of(trial), _point_of(trial)
        peers = {}
        for other in study.get_trials(deepcopy=False, states=_PEER_STATES):
            if (
                other.number != trial.number
                and self.rung in other.intermediate_values
                and _judged(other)
                and _step_of(other) == step
                and _point_of(other) != point
            ):
                peers.setdefault(_point_of(other), other.intermediate_values[self.rung])  # one value per point
        values = sorted([mine, *peers.values()], reverse=True)
        return mine < values[math.ceil(len(values) / 2) - 1]
