"""The toolkit from Python: a search, a killed search read back, and a comparison, as the README shows them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

import nas
from tests.faults.conftest import TINY_DATA

TINY = {
    "data": TINY_DATA,
    "space_options": {"base_crop": 16, "base_stride": 16, "head_width": 32},
    "target_gflops": 0.0009,
    "epochs": 0.5,
    "tie_rule": "best",
    "threads": 1,
}


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("NAS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.slow
def test_a_search_from_python_gives_what_the_command_line_prints(folder, capsys):
    result = nas.search(**TINY, final_epochs=1, storage=f"sqlite:///{folder / 'nas.db'}")
    assert capsys.readouterr().err == "", "the library printed although progress was not asked for"
    assert result.stopped == "finished" and result.chosen is not None and result.path[0]["role"] == "base"
    assert result.chosen["final_accuracy"] is not None and 0 <= result.chosen["proxy_accuracy"] <= 1
    complete = [t for t in result.trials if t.state == "complete"]
    assert len(complete) <= result.trained <= len(result.trials)  # some points fail before training (clips too short)
    frame = result.to_dataframe()
    assert len(frame) == len(result.trials) and {"point", "top1", "top1_se", "seed"} <= set(frame.columns)
    again = nas.search(
        **TINY, final_epochs=1, storage=f"sqlite:///{folder / 'nas.db'}"
    )  # the same: resumed, not redone
    assert again.study == result.study and again.chosen == result.chosen and again.trained == result.trained


def test_bad_settings_raise_one_error_naming_them_before_anything_is_written(folder):
    for settings, message in [
        ({"seed": -1}, "seed: -1 is out of range"),
        ({"epochs": float("nan")}, "epochs:"),
        ({"repeats": 2.5}, "repeats:"),
        ({"study": "../x"}, "study:"),
        ({"storage": "sqlite://"}, "in-memory"),
        ({"cost": "money"}, "cost 'money'"),
        ({"space_options": [1]}, "space_options"),
        ({"colour": 3}, "colour"),
    ]:
        with pytest.raises((nas.NasError, TypeError)) as caught:
            nas.search(**settings)
        assert message in str(caught.value), (settings, str(caught.value))
    assert list(folder.iterdir()) == []


@pytest.mark.slow
def test_a_killed_search_reads_back_with_what_it_had_finished(folder):
    ledger = folder / "nas.db"
    argv = [
        "search",
        "--data",
        TINY_DATA,
        "--space-option",
        "base_crop=16",
        "--space-option",
        "base_stride=16",
        "--space-option",
        "head_width=32",
        "--target-gflops",
        "0.0009",
        "--epochs",
        "0.5",
        "--tie-rule",
        "best",
        "--threads",
        "1",
        "--storage",
        str(ledger),
        "--study",
        "killed",
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "nas", *argv],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and _complete_trials(ledger) < 3:
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    loaded = nas.load("killed", storage=str(ledger))
    complete = [t for t in loaded.trials if t.state == "complete"]
    assert loaded.stopped == "unfinished" and len(complete) >= 3
    assert loaded.chosen is not None and loaded.chosen["point"] in {t.point.key for t in complete}
    assert loaded.path and loaded.path[0]["role"] == "base"


def _complete_trials(ledger) -> int:
    """Completed trials in a ledger another process is writing, read-only (opening it with Optuna would race the
    other process's schema creation); 0 while it has none or is not made yet."""
    import sqlite3

    if not ledger.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=5) as connection:
            return connection.execute("SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_a_comparison_from_python_on_the_installed_table(folder):
    result = nas.compare(strategies="coordinate,random", seeds=2)
    assert [row["strategy"] for row in result["rows"]] == ["coordinate", "random"]
    assert result["seeds"] == 2 and result["rows"][0]["seeds"] == 2 and list(folder.iterdir()) == []


def test_a_table_build_from_python_resumes_and_refuses_bad_settings_before_writing(folder, capsys):
    from estimators.tabular import Table

    settings = {
        "data": TINY_DATA,
        "space_options": TINY["space_options"],
        "target_gflops": 0.0009,
        "epochs": 0.5,
        "threads": 1,
        "seeds": "0,1",
    }
    with pytest.raises(nas.NasError, match="--points must be at least 1, got 0"):
        nas.build_table(str(folder / "t.h5"), points=0, **settings)
    assert not (folder / "t.h5").exists()
    built = nas.build_table(str(folder / "t.h5"), points=1, **settings)
    assert capsys.readouterr().err == "", "the library printed although progress was not asked for"
    table = Table(folder / "t.h5")
    assert built["stopped"] == "done" and built["points"] == len(table.entries) >= 1
    assert built["runs_now"] == 2 * len(table.entries) and all(table.complete(k) for k in table.entries)
    again = nas.build_table(str(folder / "t.h5"), points=1, **settings)
    assert again["runs_now"] == 0 and again["points"] == built["points"]
