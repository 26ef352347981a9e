"""bench_pruning's reading of a ledger: counts, epochs and seconds against hand-computed values."""

from __future__ import annotations

import optuna
import pytest

from benchmarks import bench_pruning

STATES = optuna.trial.TrialState


def _trial(state, seconds: float, epochs: int, role: str = "candidate", pruned_at: int | None = None):
    attrs = {
        "role": role,
        "train_seconds": seconds,
        "fidelity": float(epochs),
        **({"pruned_at_epoch": pruned_at} if pruned_at else {}),
    }
    return optuna.trial.create_trial(
        state=state,
        value=0.5 if state == STATES.COMPLETE else None,
        user_attrs=attrs,
        intermediate_values={e: 0.1 * e for e in range(1, epochs + 1)},
    )


def test_ledger_costs_count_pruned_trainings_at_their_epoch_and_scale_them_to_the_proxy(tmp_path):
    storage = f"sqlite:///{tmp_path / 'l.db'}"
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    for trial in (
        _trial(STATES.COMPLETE, 60.0, 6),
        _trial(STATES.PRUNED, 20.0, 2, pruned_at=2),
        _trial(STATES.PRUNED, 10.0, 1, pruned_at=1),
        _trial(STATES.COMPLETE, 100.0, 12, role="final"),
        _trial(STATES.FAIL, 5.0, 1),
    ):
        study.add_trial(trial)
    costs = bench_pruning.ledger_costs(storage, "s")
    assert (costs["complete"], costs["pruned"], costs["proxy_epochs"]) == (1, 2, 6.0)
    assert costs["pruned_at_epoch"] == {"1": 1, "2": 1}
    assert costs["search_train_seconds"] == 90.0 and costs["final_train_seconds"] == 100.0
    assert costs["unpruned_train_seconds_estimate"] == 60.0 + 20.0 * 3 + 10.0 * 6  # 180
    assert costs["cost_share"] == pytest.approx(0.5) and costs["ledger_train_time"] == "3:10"


def test_quick_runs_give_the_pruner_a_rung():
    command = bench_pruning.pruning_command("hyperband", 0, "sqlite:///x.db", quick=True, time_limit=None, budget=4)
    assert command[command.index("--epochs") + 1] == "2" and command[command.index("--strategy") + 1] == "hyperband"
