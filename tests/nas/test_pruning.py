"""Pruning in live searches (hyperband, asha, bohb): per-epoch reports, pruned trials, their cost, resume."""

from __future__ import annotations

import json
import os
import subprocess
from types import SimpleNamespace

import optuna
import pytest

from estimators.base import Estimator, Measurement, fingerprint_of
from estimators.proxy import CandidatePruned
from nas.cli import main
from nas.ledger import Ledger
from nas.progress import SearchProgress
from nas.pruning import make_pruner
from nas.runner import SearchRunner
from nas.storage import storage_url
from nas.strategies import PRUNED, get_strategy_class
from nas.strategies.base import COMPLETE, TrialRecord, aggregate_runs
from spaces.errors import NasError
from tests.nas.test_cli_search import TINY, nas_command
from tests.nas.test_coordinate import SPACE, TARGET, objective

EPOCHS = 9


class EpochEstimator(Estimator):
    """Trains in ``EPOCHS`` epochs whose top-1 grows to a closed-form objective; asks ``on_epoch`` after each."""

    name = "epochs"
    prunable = True

    def __init__(self) -> None:
        self.schedule = SimpleNamespace(epochs=float(EPOCHS))
        self.epochs_run: list[int] = []

    def fingerprint(self, fidelity=None) -> str:
        return fingerprint_of(self.name, {"fidelity": fidelity})

    def evaluate(self, space, point, fidelity=None, on_epoch=None) -> Measurement:
        final = objective(point) / 20
        for epoch in range(1, EPOCHS):
            if on_epoch is not None and on_epoch(epoch, final * epoch / EPOCHS):
                self.epochs_run.append(epoch)
                raise CandidatePruned(epoch, final * epoch / EPOCHS, 0.1 * epoch, {"val_clips": 100})
        self.epochs_run.append(EPOCHS)
        return Measurement(point, {"accuracy": final}, fidelity=fidelity, seconds=0.1 * EPOCHS)


def _search(tmp_path, strategy: str, budget: int = 24, estimator: EpochEstimator | None = None):
    ledger = Ledger(storage_url(str(tmp_path / "ledger.db")), "s", SPACE)
    ledger.open({"test": 1})
    estimator = estimator or EpochEstimator()
    runner = SearchRunner(
        SPACE,
        get_strategy_class(strategy)(SPACE, target=TARGET, seed=3),
        estimator,
        ledger,
        budget=budget,
        progress=SearchProgress(bars=False),
    )
    return runner.run(), estimator, optuna.load_study(study_name="s", storage=storage_url(str(tmp_path / "ledger.db")))


@pytest.mark.parametrize("strategy", ["asha", "hyperband", "bohb"])
def test_a_pruning_strategy_stops_trainings_and_records_them_pruned_at_their_epoch(tmp_path, strategy):
    outcome, estimator, study = _search(tmp_path, strategy)
    trials = study.get_trials()
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned, "nothing was pruned"
    for trial in pruned:
        epoch = trial.user_attrs["pruned_at_epoch"]
        assert 1 <= epoch < EPOCHS and max(trial.intermediate_values) == epoch and trial.value is None
        assert trial.user_attrs["fidelity"] == epoch and trial.user_attrs["train_seconds"] == pytest.approx(0.1 * epoch)
        assert trial.user_attrs["pruned_top1"] == trial.intermediate_values[epoch]
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert complete and all(len(t.intermediate_values) == EPOCHS - 1 for t in complete)
    assert sum(estimator.epochs_run) < EPOCHS * len(trials), "pruning saved no epoch"
    assert outcome.stopped == "budget" and len(trials) == 24, "a pruned trial counts as one trained model"
    assert outcome.chosen in {SPACE.point(t.params) for t in complete}, "the chosen model was trained to its end"


def test_a_resumed_pruning_search_keeps_its_pruned_trials_and_trains_none_again(tmp_path):
    _, first, study = _search(tmp_path, "asha", budget=12)
    before = {t.number: t.state for t in study.get_trials()}
    outcome, again, study = _search(tmp_path, "asha", budget=20)
    after = study.get_trials()
    assert all(after[number].state == state for number, state in before.items())
    points = [json.dumps(t.params, sort_keys=True) for t in after]
    assert len(points) == len(set(points)) == 20, "a finished or pruned point was trained again"
    assert len(again.epochs_run) == 8


def test_pruned_runs_are_settled_and_end_their_point_like_a_failure():
    point = SPACE.base
    pruned = TrialRecord(point, PRUNED, None, 1, {"pruned_at_epoch": 2, "pruned_top1": 0.3})
    assert pruned.settled
    merged = aggregate_runs(
        [
            TrialRecord(point, COMPLETE, 0.5, 1, {"accuracy_se": 0.1}),
            TrialRecord(point, PRUNED, None, 1, {"repeat": 1}),
        ],
        repeats=2,
    )
    assert [r.state for r in merged] == [PRUNED]


def test_the_sampler_learns_from_pruned_trials_at_the_epoch_they_reached():
    bohb = get_strategy_class("bohb")(SPACE, target=TARGET, seed=0)
    points = [p.point for p in get_strategy_class("random")(SPACE, target=TARGET, seed=1).propose([], 12)]
    history = [TrialRecord(p, PRUNED, None, 1, {"pruned_at_epoch": 1, "pruned_top1": 0.1}) for p in points[:6]]
    history += [TrialRecord(p, COMPLETE, 0.5, 1, {}) for p in points[6:]]
    session = bohb.open_session(history)
    states = [t.state for t in session.study.get_trials()]
    assert states.count(optuna.trial.TrialState.PRUNED) == 6 and states.count(optuna.trial.TrialState.COMPLETE) == 6
    assert {p.point for p in bohb.propose(history, 3)}.isdisjoint(points), "a pruned point was proposed again"


def test_pruners_and_their_limits():
    assert type(make_pruner("asha", 6)).__name__ == "SuccessiveHalvingPruner"
    assert type(make_pruner("hyperband", 6)).__name__ == "HyperbandPruner"
    with pytest.raises(NasError, match="at least 2 epochs"):
        make_pruner("hyperband", 1)
    with pytest.raises(NasError, match="unknown pruner 'halving'"):
        make_pruner("halving", 6)


def _curve_table(path, points) -> None:
    """A benchmark file holding ``EpochEstimator``'s learning curve of each point (seed 0), as a build writes it."""
    from estimators.tabular import add_run, create_table

    create_table(path, {"space": SPACE.name, "seeds": [0], "schedule": {"epochs": float(EPOCHS)}, "data": {}})
    for point in dict.fromkeys(points):
        final = objective(point) / 20
        cost = SPACE.complexity(point)
        curve = [{"epoch": e, "val_top1": final * e / EPOCHS, "seconds": 0.1 * e} for e in range(1, EPOCHS + 1)]
        add_run(
            path,
            {
                "key": point.key,
                "axes": list(SPACE.axis_names),
                **point.as_dict(),
                "macs": cost.macs,
                "params": cost.params,
            },
            0,
            {"top1": final, "train_seconds": 0.1 * EPOCHS, "failed": ""},
            curve,
        )


def test_pruning_on_the_table_replays_the_stored_curves_and_prunes_as_the_live_search_did(tmp_path):
    from estimators.lookup import TableLookup
    from estimators.tabular import Table
    from nas.comparison import run_strategy

    _, _, study = _search(tmp_path, "asha")
    live = [(SPACE.from_params(t.params), t.state.name, t.user_attrs.get("pruned_at_epoch")) for t in study.trials]
    _curve_table(tmp_path / "curves.h5", [point for point, _, _ in live])
    run = run_strategy(SPACE, "asha", 3, TableLookup(Table(tmp_path / "curves.h5")), target=TARGET, budget=24)
    simulated = [(r.point, r.state.upper(), r.attrs.get("pruned_at_epoch")) for r in run.history]
    assert simulated == live and any(state == "PRUNED" for _, state, _ in live)
    for record, accuracy, seconds in zip(run.history, run.accuracies, run.seconds):
        if record.state == PRUNED:  # no result, and only the seconds stored up to the epoch it was stopped at
            assert accuracy is None and seconds == pytest.approx(0.1 * record.attrs["pruned_at_epoch"])
            assert record.attrs["pruned_top1"] == pytest.approx(
                objective(record.point) / 20 * record.attrs["pruned_at_epoch"] / EPOCHS
            )


def test_the_default_comparison_runs_pruning_strategies_only_on_tables_they_can_prune(tmp_path):
    from estimators.lookup import TableLookup
    from estimators.tabular import Table, create_table
    from nas.comparison import default_strategies, run_strategy

    _curve_table(tmp_path / "curves.h5", [SPACE.base])
    assert {"hyperband", "asha", "bohb", "coordinate", "random"} <= set(
        default_strategies(TableLookup(Table(tmp_path / "curves.h5")))
    )
    create_table(tmp_path / "short.h5", {"space": SPACE.name, "seeds": [0], "schedule": {"epochs": 1.0}, "data": {}})
    short = TableLookup(Table(tmp_path / "short.h5"))
    names = default_strategies(short)
    assert "coordinate" in names and not {"hyperband", "asha", "bohb"} & set(names)
    with pytest.raises(NasError, match="learning curves of at least 2 epochs \\(this one: 1\\)"):
        run_strategy(SPACE, "asha", 0, short, target=TARGET, budget=3)


def test_hyperband_on_the_table_is_the_same_in_every_run(tmp_path):
    from estimators.lookup import TableLookup
    from estimators.tabular import Table
    from nas.comparison import run_strategy

    _, _, study = _search(tmp_path, "hyperband")  # random search's points: the same sequence on the table
    _curve_table(tmp_path / "curves.h5", [SPACE.from_params(t.params) for t in study.trials])
    runs = [
        run_strategy(SPACE, "hyperband", 3, TableLookup(Table(tmp_path / "curves.h5")), target=TARGET, budget=24)
        for _ in range(2)
    ]
    outcomes = [[(r.point, r.state, r.attrs.get("pruned_at_epoch")) for r in run.history] for run in runs]
    assert outcomes[0] == outcomes[1] and len(outcomes[0]) == 24 and any(state == PRUNED for _, state, _ in outcomes[0])


def test_a_real_hyperband_search_reports_every_epoch_and_counts_pruned_cost(tmp_path, monkeypatch, capsys):
    data = TINY[1].replace("clips_per_class=6", "clips_per_class=16").replace("val_fraction=0.15", "val_fraction=0.4")
    tiny = [TINY[0], data, *TINY[2 : TINY.index("--epochs")], "--epochs", "3", *TINY[TINY.index("--epochs") + 2 :]]
    env = {**os.environ, "NAS_CACHE_DIR": str(tmp_path / "cache")}
    storage = f"sqlite:///{tmp_path / 'hb'}.db"
    done = subprocess.run(
        nas_command(
            "search",
            *tiny,
            "--strategy",
            "hyperband",
            "--budget",
            "8",
            "--final-epochs",
            "0",
            "--storage",
            storage,
            "--json",
        ),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    study = json.loads(done.stdout.strip().splitlines()[-1])["study"]
    trials = optuna.load_study(study_name=study, storage=storage).get_trials()
    trained = [t for t in trials if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)]
    assert len(trained) == 8 and all(t.intermediate_values for t in trained)
    for trial in trained:
        epochs = trial.user_attrs["fidelity"]
        assert len(trial.intermediate_values) == (epochs if trial.state == optuna.trial.TrialState.PRUNED else 2)
    monkeypatch.chdir(tmp_path)
    assert main(["report", "--storage", storage, "--study", study, "--out", str(tmp_path / "report"), "--json"]) == 0
    (comparison,) = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["comparison"]
    seconds = sum(float(t.user_attrs["train_seconds"]) for t in trained)
    assert comparison["trained"] == 8 and comparison["train time"] == f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    (csv_file,) = (tmp_path / "report").glob("*-trials.csv")
    rows = csv_file.read_text().splitlines()
    assert len(rows) == 1 + 8 and all(
        ",pruned," in row and "pruned after epoch" in row for row in rows if ",pruned," in row
    )
