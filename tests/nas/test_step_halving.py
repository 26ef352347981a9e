"""coordinate-sh: successive halving inside each coordinate step, live and on the table."""

from __future__ import annotations

import optuna
import pytest

from nas.pruning import make_pruner
from nas.step_halving import StepHalvingPruner, rung_epoch
from nas.strategies import PRUNED
from nas.strategies.base import COMPLETE
from tests.nas.test_coordinate import SPACE, TARGET
from tests.nas.test_pruning import EPOCHS, _curve_table, _search

RUNG = 3


def _study(rows: list[tuple[dict, float | None, str]]) -> optuna.Study:
    """An in-memory study with one finished trial per row: (user attrs, top-1 at the rung or None, state)."""
    study = optuna.create_study(
        direction="maximize", storage=optuna.storages.InMemoryStorage(), pruner=StepHalvingPruner(RUNG)
    )
    for attrs, value, state in rows:
        trial = study.ask()
        for key, item in attrs.items():
            trial.set_user_attr(key, item)
        if value is not None:
            trial.report(value, RUNG)
        study.tell(trial, state=getattr(optuna.trial.TrialState, state), values=0.5 if state == "COMPLETE" else None)
    return study


def _judge(study: optuna.Study, attrs: dict, value: float) -> bool:
    trial = study.ask()
    for key, item in attrs.items():
        trial.set_user_attr(key, item)
    trial.report(value, RUNG)
    return trial.should_prune()


def _candidate(point: str, step: int = 1, **more) -> dict:
    return {"role": "candidate", "step": step, "parent": "base", "point": point, **more}


def test_a_candidate_goes_on_only_in_the_better_half_of_its_step_so_far():
    assert not _judge(_study([]), _candidate("a"), 0.1), "the first candidate of a step always goes on"
    one = _study([(_candidate("a"), 0.5, "COMPLETE")])
    assert _judge(one, _candidate("b"), 0.4) and not _judge(one, _candidate("b"), 0.5)  # 1 of 2 go on; ties go on
    two = _study([(_candidate("a"), 0.5, "COMPLETE"), (_candidate("b"), 0.4, "PRUNED")])
    assert not _judge(two, _candidate("c"), 0.45) and _judge(two, _candidate("c"), 0.39)  # 2 of 3 go on
    three = _study(
        [(_candidate("a"), 0.5, "COMPLETE"), (_candidate("b"), 0.4, "PRUNED"), (_candidate("c"), 0.45, "COMPLETE")]
    )
    assert _judge(three, _candidate("d"), 0.44) and not _judge(three, _candidate("d"), 0.46)  # 2 of 4 go on


def test_only_a_steps_first_seed_candidates_are_peers_and_judged():
    peers = _study(
        [
            (_candidate("a"), 0.9, "COMPLETE"),
            (_candidate("x", step=2), 0.9, "COMPLETE"),  # another step
            (_candidate("y", parent="other"), 0.9, "COMPLETE"),  # another parent
            (_candidate("z", repeat=1, tie_break=True), 0.9, "COMPLETE"),  # a tie's extra seed
            (_candidate("b"), 0.9, "FAIL"),  # an interrupted attempt of the point judged below
            (_candidate("w"), None, "PRUNED"),
        ]
    )  # never reached the rung
    assert _judge(peers, _candidate("b"), 0.5), "judged against 'a' alone"
    assert not _judge(_study([(_candidate("b"), 0.9, "COMPLETE")]), _candidate("b"), 0.5), (
        "an earlier attempt of the same point is not its peer"
    )
    for attrs in (
        {"role": "base", "step": 0},
        {"role": "contraction", "step": 1, "parent": "base"},
        _candidate("c", repeat=1, tie_break=True),
    ):
        assert not _judge(_study([(_candidate("a"), 0.9, "COMPLETE")]), attrs, 0.1), attrs


def test_the_rung_is_a_third_of_the_schedule():
    assert [rung_epoch(e) for e in (2, 3, 6, 9, 12)] == [1, 1, 2, 3, 4]
    assert make_pruner("step-halving", 6).rung == 2
    with pytest.raises(ValueError, match="epoch 1 or later"):
        StepHalvingPruner(0)


def test_a_halving_search_takes_the_coordinate_path_with_fewer_epochs(tmp_path):
    """The closed-form curves rank at the rung as at the end: the path is coordinate's, each step's best kept."""
    (tmp_path / "plain").mkdir()
    (tmp_path / "halved").mkdir()
    plain, plain_epochs, _ = _search(tmp_path / "plain", "coordinate", budget=200)
    halved, halved_epochs, study = _search(tmp_path / "halved", "coordinate-sh", budget=200)
    assert halved.chosen == plain.chosen
    pruned = [t for t in study.get_trials() if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned and all(
        t.user_attrs["pruned_at_epoch"] == RUNG and t.user_attrs["role"] == "candidate" for t in pruned
    )
    assert sum(halved_epochs.epochs_run) < sum(plain_epochs.epochs_run)
    steps: dict = {}
    for trial in study.get_trials():
        if trial.user_attrs.get("role") == "candidate":
            steps.setdefault(trial.user_attrs["step"], []).append(trial)
    for trials in steps.values():  # in each step: the first goes on, and at most half plus one are stopped
        assert trials[0].state == optuna.trial.TrialState.COMPLETE
        assert sum(t.state == optuna.trial.TrialState.PRUNED for t in trials) <= len(trials) // 2 + 1


def test_on_the_table_it_prunes_as_the_live_search_did(tmp_path):
    from estimators.lookup import TableLookup
    from estimators.tabular import Table
    from nas.comparison import run_strategy

    assert EPOCHS // 3 == RUNG
    _, _, study = _search(tmp_path, "coordinate-sh", budget=200)
    live = [(SPACE.from_params(t.params), t.state.name, t.user_attrs.get("pruned_at_epoch")) for t in study.trials]
    _curve_table(tmp_path / "curves.h5", [point for point, _, _ in live])
    run = run_strategy(SPACE, "coordinate-sh", 3, TableLookup(Table(tmp_path / "curves.h5")), target=TARGET, budget=200)
    simulated = [(r.point, r.state.upper(), r.attrs.get("pruned_at_epoch")) for r in run.history]
    assert simulated == live and any(state == PRUNED.upper() for _, state, _ in live)
    assert {r.state for r in run.history} <= {COMPLETE, PRUNED}
