"""``nas report`` and ``nas export`` on ledgers written by the real runner (with a cheap deterministic objective)."""

from __future__ import annotations

import struct

import pytest
import yaml

from nas.cli import main
from nas.ledger import Ledger
from nas.progress import SearchProgress
from nas.report import pareto_front
from nas.runner import SearchRunner
from nas.storage import storage_url
from nas.strategies import COMPLETE, TrialRecord, get_strategy_class
from nas.strategies.base import best_within
from spaces import build_exported, load_exported
from spaces.exported import parse_exported
from tests.nas.test_coordinate import SPACE, TARGET
from tests.nas.test_runner import ObjectiveEstimator


def search(db, strategy_name: str, budget: int | None = None) -> str:
    """Run a search as ``nas search`` records it (the same study config) and return the study name."""
    estimator = ObjectiveEstimator()
    strategy = get_strategy_class(strategy_name)(SPACE, target=TARGET, seed=0)
    study = f"x3d-{strategy_name}"
    ledger = Ledger(storage_url(str(db)), study, SPACE)
    ledger.open(
        {
            "space": SPACE.name,
            "space_version": SPACE.version,
            "space_settings": SPACE.settings(),
            "strategy": strategy_name,
            "selection": "accuracy" if strategy_name == "coordinate" else None,
            "target_macs": TARGET,
            "seed": 0,
            "estimator": estimator.fingerprint(),
        }
    )
    SearchRunner(
        SPACE, strategy, estimator, ledger, budget=budget, final_epochs=2.0, progress=SearchProgress(bars=False)
    ).run()
    return study


@pytest.fixture(scope="module")
def ledger_path(tmp_path_factory):
    db = tmp_path_factory.mktemp("ledger") / "nas.db"
    search(db, "coordinate")
    search(db, "random", budget=12)
    return db


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_report_lists_the_studies_of_a_storage(ledger_path, capsys):
    assert main(["report", "--storage", str(ledger_path)]) == 0
    out = capsys.readouterr().out
    assert "x3d-coordinate" in out and "x3d-random" in out and "coordinate" in out


def test_report_writes_the_table_the_path_and_the_overlaid_fronts(ledger_path, tmp_path, capsys):
    out_dir = tmp_path / "report"
    assert (
        main(
            [
                "report",
                "--storage",
                str(ledger_path),
                "--study",
                "x3d-coordinate",
                "--study",
                "x3d-random",
                "--out",
                str(out_dir),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "expansion" in printed and "contraction" in printed and "chosen:" in printed
    comparison = printed.split("comparison (", 1)[1].splitlines()
    assert comparison[2].split()[:3] == ["x3d-coordinate", "coordinate", "44"]
    assert comparison[3].split()[:3] == ["x3d-random", "random", "12"]
    rows = (out_dir / "x3d-coordinate-trials.csv").read_text().splitlines()
    study_trials = Ledger(storage_url(str(ledger_path)), "x3d-coordinate", SPACE).trials()
    assert len(rows) == 1 + len(study_trials)  # header + every trial, final training included
    assert rows[0].startswith("trial,state,role,step,axis,point,gmacs")
    width, height = png_size(out_dir / "x3d-coordinate-path.png")
    assert width > 600 and height > 400
    png_size(out_dir / "pareto.png")
    assert not (out_dir / "x3d-random-path.png").exists()  # random search has no expansion path


def test_report_json_holds_the_replayed_path(ledger_path, tmp_path, capsys):
    import json

    assert (
        main(["report", "--storage", str(ledger_path), "--study", "x3d-coordinate", "--out", str(tmp_path), "--json"])
        == 0
    )
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (study,) = payload["studies"]
    roles = [step["role"] for step in study["path"]]
    assert roles[0] == "base" and "expansion" in roles
    assert study["chosen"]["final_top1"] is not None and (tmp_path / "x3d-coordinate-pareto.png").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["report", "--study", "nope"], "no study 'nope'"),
        (["export", "--study", "nope", "--out", "{tmp}/x.yaml"], "no study 'nope'"),
        (
            ["export", "--study", "x3d-coordinate", "--out", "{tmp}/x.yaml", "--gflops", "0.0001"],
            "no trained point within",
        ),
        (
            ["export", "--study", "x3d-coordinate", "--out", "{tmp}/x.yaml", "--gflops", "-1"],
            "argument --gflops: -1 is out of range",
        ),
        (["export", "--study", "x3d-coordinate", "--out", "{tmp}/missing/x.yaml"], "does not exist"),
    ],
)
def test_bad_requests_are_one_line_and_write_nothing(ledger_path, tmp_path, capsys, argv, message):
    argv = [a.format(tmp=tmp_path) for a in argv] + ["--storage", str(ledger_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())


def test_a_missing_ledger_is_named(tmp_path, capsys):
    assert main(["report", "--storage", str(tmp_path / "none.db")]) == 2
    assert "no ledger at" in capsys.readouterr().err and not (tmp_path / "none.db").exists()


def test_export_rebuilds_the_chosen_model_in_one_call(ledger_path, tmp_path):
    out = tmp_path / "best.yaml"
    assert main(["export", "--storage", str(ledger_path), "--study", "x3d-coordinate", "--out", str(out)]) == 0
    text = out.read_text()
    exported = load_exported(out)
    assert yaml.safe_load(text) == {
        "format": "nas-export/1",
        "space": exported.space_name,
        "space_version": exported.space_version,
        "settings": dict(exported.settings),
        "point": dict(exported.values),
        **exported.info,
    }  # the same values for any YAML reader
    strategy = get_strategy_class("coordinate")(SPACE, target=TARGET)
    report_ledger = Ledger(storage_url(str(ledger_path)), "x3d-coordinate", SPACE)
    chosen = strategy.chosen(report_ledger.records(ObjectiveEstimator().fingerprint()))
    assert exported.point() == chosen and exported.info["final_top1"] is not None
    model = build_exported(out)
    assert sum(p.numel() for p in model.parameters()) == SPACE.complexity(chosen).params == exported.info["params"]


def test_export_within_a_compute_level_takes_the_best_there(ledger_path, tmp_path):
    out = tmp_path / "small.yaml"
    level = 0.5
    assert (
        main(
            [
                "export",
                "--storage",
                str(ledger_path),
                "--study",
                "x3d-random",
                "--out",
                str(out),
                "--gflops",
                str(level),
            ]
        )
        == 0
    )
    exported = load_exported(out)
    history = Ledger(storage_url(str(ledger_path)), "x3d-random", SPACE).records(ObjectiveEstimator().fingerprint())
    best = best_within(history, level * 1e9)
    assert exported.point() == best.point and exported.info["gmacs"] <= level


def test_pareto_front_and_best_within_by_hand():
    def record(macs, accuracy, state=COMPLETE):
        return TrialRecord(SPACE.base, state, accuracy, macs)

    records = [
        record(10, 0.2),
        record(5, 0.1),
        record(20, 0.15),
        record(30, 0.4),
        record(30, 0.3),
        record(7, 0.9, "failed"),
    ]
    assert [(r.cost, r.accuracy) for r in pareto_front(records)] == [(5, 0.1), (10, 0.2), (30, 0.4)]
    assert best_within(records, 25).accuracy == 0.2 and best_within(records, 4) is None


def test_train_time_counts_every_seed_of_a_repeated_point_and_a_pruned_run_up_to_its_epoch():
    from nas.report import StudyReport, train_seconds
    from nas.strategies.base import PRUNED, aggregate_runs

    def run(point, repeat, seconds, state=COMPLETE):
        return TrialRecord(
            point, state, 0.5 if state == COMPLETE else None, 100, {"repeat": repeat, "train_seconds": seconds}
        )

    other = SPACE.expand(SPACE.base, "width")
    runs = [run(SPACE.base, 0, 10.0), run(SPACE.base, 1, 12.5), run(other, 0, 3.25, PRUNED)]
    history = aggregate_runs(runs, repeats=2)
    assert len(history) == 2  # the base's two seeds are one record, which keeps the first one's seconds only
    final = TrialRecord(SPACE.base, COMPLETE, 0.7, 100, {"role": "final", "train_seconds": 40.0})
    report = StudyReport(None, {}, None, history, [final], runs)
    assert train_seconds(report) == 10.0 + 12.5 + 3.25 + 40.0


@pytest.mark.parametrize(
    "text, message",
    [
        ('space: "x3d"\n', "lacks format"),
        ('format: "nas-export/9"\nspace: "x3d"\nspace_version: "1"\nsettings: {}\npoint: {}\n', "has format"),
        ('format: "nas-export/1"\nspace x3d\n', "line 2"),
        ('format: "nas-export/1"\nspace: "x3d"\nspace_version: "1"\nsettings: []\npoint: {}\n', "must be mappings"),
    ],
)
def test_a_malformed_export_is_refused_with_its_reason(text, message):
    from spaces import SpaceError

    with pytest.raises(SpaceError, match=message):
        parse_exported(text)


def test_an_export_of_another_space_version_is_refused():
    from spaces import SpaceError
    from spaces.exported import format_exported

    text = format_exported({"space": "x3d", "space_version": "99", "settings": {}, "point": {}})
    with pytest.raises(SpaceError, match="version 99"):
        parse_exported(text).build()


def test_every_study_of_the_ledger_opens_in_optuna_dashboard(ledger_path):
    """optuna-dashboard's own WSGI app (what `optuna-dashboard sqlite:///nas.db` serves) reads the ledger as it is."""
    import json
    from wsgiref.util import setup_testing_defaults

    import optuna_dashboard

    app = optuna_dashboard.wsgi(storage_url(str(ledger_path)))

    def get(path: str):
        environ: dict = {}
        setup_testing_defaults(environ)
        environ.update(PATH_INFO=path, REQUEST_METHOD="GET")
        status = []
        body = b"".join(app(environ, lambda code, headers, exc_info=None: status.append(code)))
        assert status[0].startswith("200"), (path, status, body[:200])
        return json.loads(body)

    summaries = get("/api/studies")["study_summaries"]
    assert {s["study_name"] for s in summaries} == {"x3d-coordinate", "x3d-random"}
    for summary in summaries:
        study = get(f"/api/studies/{summary['study_id']}")
        trials = Ledger(storage_url(str(ledger_path)), summary["study_name"], SPACE).trials()
        assert len(study["trials"]) == len(trials)
        first = study["trials"][0]
        assert [p["name"] for p in first["params"]] == [axis.name for axis in SPACE.axes]
        assert first["state"] == "Complete" and first["values"] == trials[0].values
        assert {"macs", "params", "fingerprint"} <= {a["key"] for a in first["user_attrs"]}


def test_a_study_without_trials_reports_and_exports_cleanly(tmp_path, capsys):
    db = tmp_path / "empty.db"
    ledger = Ledger(storage_url(str(db)), "x3d-empty", SPACE)
    ledger.open(
        {
            "space": SPACE.name,
            "space_version": SPACE.version,
            "space_settings": SPACE.settings(),
            "strategy": "coordinate",
            "selection": "accuracy",
            "target_macs": TARGET,
            "seed": 0,
            "estimator": ObjectiveEstimator().fingerprint(),
        }
    )
    assert main(["report", "--storage", str(db), "--study", "x3d-empty", "--out", str(tmp_path / "r")]) == 0
    assert "(none)" in capsys.readouterr().out
    assert main(["export", "--storage", str(db), "--study", "x3d-empty", "--out", str(tmp_path / "x.yaml")]) == 2
    assert "no chosen model yet" in capsys.readouterr().err and not (tmp_path / "x.yaml").exists()


def test_an_export_never_carries_a_database_password(postgres_url, tmp_path, capsys):
    """A real export of a study on a password-protected PostgreSQL:
    the file and the output name the storage, not its password."""
    from tests.pg_cluster import PASSWORD

    assert PASSWORD in postgres_url
    study = search(postgres_url, "coordinate")
    out = tmp_path / "chosen.yaml"
    assert main(["export", "--storage", postgres_url, "--study", study, "--out", str(out)]) == 0
    written, shown = out.read_text(), capsys.readouterr()
    assert "storage:" in written and ":***@127.0.0.1" in written
    assert PASSWORD not in written and PASSWORD not in shown.out and PASSWORD not in shown.err


@pytest.mark.parametrize("hostile", ["../../escape", "../a/b\nc ünï" + "x" * 400])
def test_a_study_name_from_a_shared_ledger_never_escapes_the_report_folder(tmp_path, capsys, hostile):
    """Anyone with access to a shared ledger can name a study; its files stay in --out, under a safe name."""
    db = tmp_path / "nas.db"
    search(db, "coordinate")
    import sqlite3

    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE studies SET study_name = ? WHERE study_name = 'x3d-coordinate'", (hostile,))
    out = tmp_path / "deep" / "rep"
    assert main(["report", "--storage", str(db), "--study", hostile, "--out", str(out)]) == 0
    capsys.readouterr()
    written = sorted(p for p in tmp_path.rglob("*") if p.is_file() and p != db)
    assert written and all(p.parent == out for p in written), written
    assert all(len(p.name.encode()) <= 255 and "\n" not in p.name and p.name[0] != "." for p in written), written
