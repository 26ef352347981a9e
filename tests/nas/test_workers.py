"""One search, many workers: real PostgreSQL and SQLite, real processes, one of them SIGKILLed mid-trial."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest

from tests.nas.test_cli_search import TINY, comparable, nas_command

STUDY = "shared"
#: The tiny search with trainings of about a second (twice the clips, 4 epochs), so that a kill lands mid-trial.
SEARCH = [
    TINY[0],
    TINY[1].replace("clips_per_class=6", "clips_per_class=12"),
    *TINY[2 : TINY.index("--epochs")],
    "--epochs",
    "4",
    *TINY[TINY.index("--epochs") + 2 :],
]


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "NAS_CACHE_DIR": str(tmp_path / "cache")}


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The same search in one process: the path every multi-worker run must reproduce."""
    tmp_path = tmp_path_factory.mktemp("single")
    done = subprocess.run(
        nas_command("search", *SEARCH, "--storage", str(tmp_path / "one.db"), "--study", STUDY, "--json"),
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _start(tmp_path: Path, storage: str, workers: int) -> tuple[subprocess.Popen, list[subprocess.Popen]]:
    """``nas search`` plus ``workers`` - 1 ``nas worker`` processes (the workers start first and wait for the study)."""
    env, logs = _env(tmp_path), []
    helpers = []
    for index in range(workers - 1):
        log = open(tmp_path / f"worker{index}.log", "w")
        logs.append(log)
        helpers.append(
            subprocess.Popen(
                nas_command(
                    "worker", "--storage", storage, "--study", STUDY, "--wait", "120", "--heartbeat", "2", "--json"
                ),
                env=env,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        )
    search = subprocess.Popen(
        nas_command("search", *SEARCH, "--storage", storage, "--study", STUDY, "--heartbeat", "2", "--json"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return search, helpers


def _finish(search: subprocess.Popen, helpers: list[subprocess.Popen]) -> tuple[dict, list[dict]]:
    out, err = search.communicate(timeout=600)
    assert search.returncode == 0, err[-3000:]
    reports = []
    for helper in helpers:
        helper_out, _ = helper.communicate(timeout=120)
        if helper.returncode != -signal.SIGKILL:
            assert helper.returncode == 0, helper_out
            reports.append(json.loads(helper_out.strip().splitlines()[-1]))
    return json.loads(out.strip().splitlines()[-1]), reports


def _trials(storage: str) -> list[optuna.trial.FrozenTrial]:
    from nas.storage import open_storage, storage_url

    return optuna.load_study(study_name=STUDY, storage=open_storage(storage_url(storage))).get_trials()


def _check_each_point_trained_once(trials: list[optuna.trial.FrozenTrial]) -> None:
    trained = Counter(
        (json.dumps(t.params, sort_keys=True), t.user_attrs["fingerprint"])
        for t in trials
        if t.state == optuna.trial.TrialState.COMPLETE
    )
    assert trained and max(trained.values()) == 1, "a point was trained twice"
    assert not [t for t in trials if t.state == optuna.trial.TrialState.RUNNING], "a trial was left running"


def _run_and_check(single: dict, tmp_path: Path, storage: str, workers: int) -> list[optuna.trial.FrozenTrial]:
    summary, reports = _finish(*_start(tmp_path, storage, workers))
    assert comparable(summary) == comparable(single), "the workers took another path than one process"
    trials = _trials(storage)
    _check_each_point_trained_once(trials)
    owners = {t.user_attrs["owner"]["pid"] for t in trials if t.state == optuna.trial.TrialState.COMPLETE}
    assert len(owners) >= 2, "only one process trained: the workers did not share the search"
    assert all(r["stopped"] == "finished" for r in reports)
    return trials


def test_four_processes_on_postgresql_train_each_candidate_once_on_the_single_process_path(
    single, tmp_path, postgres_url
):
    trials = _run_and_check(single, tmp_path, postgres_url, workers=4)
    kept = [t for t in trials if not t.user_attrs.get("withdrawn")]  # a withdrawn claim never trained
    steps = Counter(t.user_attrs.get("step") for t in kept if t.user_attrs.get("role") == "candidate")
    assert steps[1] == 6 and steps[2] == 6


def test_three_processes_on_sqlite(single, tmp_path):
    _run_and_check(single, tmp_path, str(tmp_path / "shared.db"), workers=3)


#: Frames in the test data's videos: a point whose clip window is longer fails at once, without training.
SHORTEST_CLIP = 16


def _trains(params: dict) -> bool:
    """Whether the test data can serve this point (else its trial fails for free within milliseconds)."""
    return (int(params["frames"]) - 1) * int(params["stride"]) + 1 <= SHORTEST_CLIP


def _signal_when_training(victim: subprocess.Popen, storage: str, signum: int, deadline: float) -> int | None:
    """Send ``signum`` to ``victim`` at once when it holds a running trial that trains (a training lasts about a
    second); that trial's number, or None if it never trained before ``deadline``."""
    while time.monotonic() < deadline:
        running = _victims_trials(victim, storage)
        if running:
            victim.send_signal(signum)
            return running[0].number
        time.sleep(0.05)
    return None


def _victims_trials(victim: subprocess.Popen, storage: str) -> list[optuna.trial.FrozenTrial]:
    """The victim's running trials of points that train, not (yet) withdrawn."""
    try:
        return [
            t
            for t in _trials(storage)
            if t.state == optuna.trial.TrialState.RUNNING
            and t.user_attrs["owner"]["pid"] == victim.pid
            and not t.user_attrs.get("withdrawn")
            and "retry" not in t.user_attrs
            and _trains(t.params)
        ]
    except KeyError:  # the study does not exist yet
        return []


def _stop_mid_training(victim: subprocess.Popen, storage: str, deadline: float) -> int | None:
    """SIGSTOP ``victim`` while it trains a claimed trial; that trial's number, or None before ``deadline``.

    A trial is visible as RUNNING a moment before its claim is settled: a worker that finds an earlier claim of
    the same point withdraws it (a failure with a reason).  A stop landing there, or after the training ended,
    is not the case under test, so the worker is resumed and the next trial waited for.  The stop counts once,
    a moment after it took effect, the trial is still running, unwithdrawn, and the first live claim of its point
    (so its claim succeeds: no budget is set).
    """
    while time.monotonic() < deadline:
        number = _signal_when_training(victim, storage, signal.SIGSTOP, deadline)
        if number is None:
            return None
        time.sleep(0.3)
        trials = _trials(storage)
        (mine,) = [t for t in trials if t.number == number]
        earlier = [
            t
            for t in trials
            if t.number < number
            and t.params == mine.params
            and not t.user_attrs.get("withdrawn")
            and t.state in (optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.COMPLETE)
        ]
        if not earlier and any(t.number == number for t in _victims_trials(victim, storage)):
            return number
        victim.send_signal(signal.SIGCONT)
    return None


def test_a_worker_sigkilled_mid_trial_has_its_trial_retried_on_postgresql(single, tmp_path, postgres_url):
    search, helpers = _start(tmp_path, postgres_url, workers=4)
    victim = helpers[0]
    killed = _signal_when_training(victim, postgres_url, signal.SIGKILL, time.monotonic() + 240)
    assert killed is not None, "the worker never trained"
    summary, _ = _finish(search, helpers)
    assert comparable(summary) == comparable(single)
    trials = _trials(postgres_url)
    _check_each_point_trained_once(trials)
    (dead,) = [
        t
        for t in trials
        if t.user_attrs["owner"]["pid"] == victim.pid
        and t.state == optuna.trial.TrialState.FAIL
        and t.user_attrs.get("retry", True)
    ]  # the trial the kill stranded, failed by another worker for retry
    assert "died mid-trial" in dead.user_attrs.get("fail_reason", "")  # by its pid: the workers share this machine
    killed = dead.number
    same = [
        t
        for t in trials
        if t.params == dead.params
        and t.number != killed
        and not t.user_attrs.get("withdrawn")
        and t.user_attrs["fingerprint"] == dead.user_attrs["fingerprint"]
    ]
    settled = [t for t in same if t.state == optuna.trial.TrialState.COMPLETE or t.user_attrs.get("retry") is False]
    assert len(settled) == 1, [(t.number, t.state, t.user_attrs) for t in same]  # trained (or failed for good) once
    if settled[0].number > killed:  # the usual case; else the kill caught a claim that was about to step back
        assert settled[0].user_attrs["retry_of"] == killed


def test_a_worker_waits_for_a_study_that_never_comes_then_says_so(tmp_path):
    done = subprocess.run(
        nas_command("worker", "--storage", str(tmp_path / "none.db"), "--study", "later", "--wait", "1"),
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "no ledger at" in done.stderr and "after waiting 1 s" in done.stderr
    assert not (tmp_path / "none.db").exists(), "a worker created the ledger it waits for"
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def test_an_unreachable_database_is_one_line_without_the_password(tmp_path):
    done = subprocess.run(
        nas_command("worker", "--storage", "postgresql://nas:s3cret@127.0.0.1:1/nas", "--study", "x", "--wait", "0"),
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "cannot open storage" in done.stderr and "s3cret" not in done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def test_a_worker_without_wait_on_a_missing_ledger_file_creates_nothing(tmp_path):
    ledger = tmp_path / "missing.db"
    done = subprocess.run(
        nas_command("worker", "--storage", str(ledger), "--study", "x", "--wait", "0"),
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "no ledger at" in done.stderr and not ledger.exists()


@pytest.fixture
def small_study(tmp_path):
    """A one-model study of the tiny search: what the refused workers try to join."""
    storage = str(tmp_path / "small.db")
    done = subprocess.run(
        nas_command("search", *TINY, "--budget", "1", "--final-epochs", "0", "--storage", storage, "--study", "refuse"),
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return storage


def _trial_count(storage: str) -> int:
    return len(optuna.load_study(study_name="refuse", storage=f"sqlite:///{storage}").get_trials())


@pytest.mark.parametrize(
    "extra, env, message",
    [
        (["--data", TINY[1].replace("classes=4", "classes=3")], {}, "has 3 classes, the search's model 4"),
        (["--data", TINY[1].replace("seed=3", "seed=4")], {}, "would train differently from the search (data differ)"),
        ([], {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"}, "nas worker trains each candidate in one process"),
        (
            ["--device", "cuda"],
            {"CUDA_VISIBLE_DEVICES": ""},
            "device 'cuda' asked for, but this machine has no usable CUDA",
        ),
    ],
)
def test_a_worker_refuses_other_data_and_torchrun_in_one_line_and_trains_nothing(
    small_study, tmp_path, extra, env, message
):
    before = _trial_count(small_study)
    done = subprocess.run(
        nas_command("worker", "--storage", small_study, "--study", "refuse", "--wait", "0", *extra),
        env={**_env(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and message in done.stderr, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1  # other synthetic data is never built
    assert _trial_count(small_study) == before


def test_a_worker_with_another_torch_version_refuses_in_one_line(small_study, tmp_path, monkeypatch, capsys):
    import torch

    from nas.cli import main

    monkeypatch.setenv("NAS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(torch, "__version__", "9.9.9+cpu")
    before = _trial_count(small_study)
    assert main(["worker", "--storage", small_study, "--study", "refuse", "--wait", "0"]) == 2
    error = capsys.readouterr().err
    assert "would train differently from the search" in error and "the same torch version" in error
    assert _trial_count(small_study) == before


def test_three_processes_on_a_journal_file(single, tmp_path):
    """The journal storage: appends under a file lock, no heartbeats (dead processes are found by pid)."""
    _run_and_check(single, tmp_path, str(tmp_path / "shared.journal"), workers=3)


def test_a_worker_stopped_past_the_heartbeat_grace_loses_its_trial_and_drops_its_late_result(
    single, tmp_path, postgres_url
):
    """SIGSTOP: alive (its pid is there) but silent, so only the heartbeat can tell; after SIGCONT it finishes a
    training whose trial another worker failed and retried, and drops the result."""
    search, helpers = _start(tmp_path, postgres_url, workers=3)
    victim, deadline = helpers[0], time.monotonic() + 240
    stopped = _stop_mid_training(victim, postgres_url, deadline)
    assert stopped is not None, "the worker never trained"
    try:
        while time.monotonic() < deadline:  # the others fail it once it is silent for 3 heartbeats (6 s)
            (trial,) = [t for t in _trials(postgres_url) if t.number == stopped]
            if trial.state == optuna.trial.TrialState.FAIL:
                break
            time.sleep(0.5)
        assert trial.state == optuna.trial.TrialState.FAIL, "the silent worker's trial was never failed"
        # failed by Optuna's heartbeat check (which writes no attributes: the ledger reads it as stale, for retry),
        # not by the pid check, which would have written "died mid-trial"
        # (a stop landing inside the victim's own write of the trial's end can leave some of its attributes, so
        # the test reads the reason, not the absence of attributes)
        reason = str(trial.user_attrs.get("fail_reason", ""))
        assert "died mid-trial" not in reason and trial.user_attrs.get("retry", True) is True, trial.user_attrs
    finally:
        victim.send_signal(signal.SIGCONT)
    summary, reports = _finish(search, helpers)
    assert comparable(summary) == comparable(single), "the stopped worker changed the search's path"
    trials = _trials(postgres_url)
    _check_each_point_trained_once(trials)
    assert [t.number for t in trials if t.user_attrs.get("retry_of") == stopped], (
        "the silent worker's point was not retried"
    )
    (log,) = [p for p in tmp_path.glob("worker0.log")]
    assert "its result is dropped and the point retried" in log.read_text()
    (final,) = [t for t in _trials(postgres_url) if t.number == stopped]
    assert final.state == optuna.trial.TrialState.FAIL, "the late result overwrote the failed trial"
