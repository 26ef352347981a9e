"""Resume at full resolution: a search killed inside trials' completion writes ends with every stored figure equal.

64 validation clips (not 4), so accuracies can differ by 1/64; and every figure a trial stores is compared,
not only top-1: validation loss, training loss, per-class accuracy, its standard error.  The kills land inside
the several calls of one trial's completion write, widened by a test-only pause between them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import optuna

from nas.ledger import COMPLETION_PAUSE_VARIABLE
from tests.nas.test_cli_search import nas_command

DATA = "synth:classes=4,clips_per_class=40,frames=16,size=32,seed=3,val_fraction=0.4,test_fraction=0.1"
SEARCH = [
    "--data",
    DATA,
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
    "--final-epochs",
    "0",
    "--threads",
    "1",
    "--tie-rule",
    "best",
    "--budget",
    "7",
]
FIGURES = ("val_loss", "train_loss", "per_class_top1", "accuracy_se", "val_clips")


def _figures(storage: str) -> dict[str, tuple]:
    """Every completed trial's stored figures, by point."""
    (summary,) = optuna.get_all_study_summaries(storage)
    trials = optuna.load_study(study_name=summary.study_name, storage=storage).get_trials()
    return {
        json.dumps(t.params, sort_keys=True): (t.value, *(json.dumps(t.user_attrs.get(k)) for k in FIGURES))
        for t in trials
        if t.state == optuna.trial.TrialState.COMPLETE
    }


def _half_written(storage: str) -> list[int]:
    """RUNNING trials whose completion write has begun (some of its figures are stored, the state is not)."""
    if not os.path.exists(storage[len("sqlite:///") :]):
        return []
    try:
        summaries = optuna.get_all_study_summaries(storage)
        trials = [
            t for s in summaries for t in optuna.load_study(study_name=s.study_name, storage=storage).get_trials()
        ]
    except Exception:  # the schema is being created
        return []
    return [t.number for t in trials if t.state == optuna.trial.TrialState.RUNNING and "val_loss" in t.user_attrs]


def test_kills_inside_completion_writes_then_resume_store_every_figure_as_an_uninterrupted_search(tmp_path):
    env = {**os.environ, "NAS_CACHE_DIR": str(tmp_path / "cache")}
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    done = subprocess.run(
        nas_command("search", *SEARCH, "--storage", reference), env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    expected = _figures(reference)
    assert len(expected) >= 4 and all(json.loads(f[-1]) == 64 for f in expected.values())  # 64 validation clips

    killed = f"sqlite:///{tmp_path / 'killed.db'}"
    command = nas_command("search", *SEARCH, "--storage", killed)
    hit: set[int] = set()  # trials a kill left half-written (the last run's are failed when the next one starts)
    for _ in range(3):
        child = subprocess.Popen(
            command,
            env={**env, COMPLETION_PAUSE_VARIABLE: "0.4"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while child.poll() is None and time.monotonic() < deadline and not set(_half_written(killed)) - hit:
            time.sleep(0.05)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        hit |= set(_half_written(killed))  # still half-written after the kill: it landed inside the write
    hits = len(hit)
    assert hits >= 2, f"only {hits} of 3 kills landed inside a completion write"
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _figures(killed) == expected
    (summary,) = optuna.get_all_study_summaries(killed)
    trials = optuna.load_study(study_name=summary.study_name, storage=killed).get_trials()
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials) == len(expected), "a point completed twice"
    interrupted = {t.number for t in trials if t.state == optuna.trial.TrialState.FAIL and t.user_attrs.get("retry")}
    assert interrupted == hit  # each half-written trial, and only those, failed for retry and trained again
