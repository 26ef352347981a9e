"""``torchrun -m nas search``: rank 0 runs the search and owns the ledger, rank 1 trains each candidate beside it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from nas.ledger import Ledger
from spaces import get_space
from tests.pg_cluster import free_port

from .test_cli_search import TINY

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_torchrun_search_trains_each_candidate_on_both_ranks_and_writes_the_ledger_once(tmp_path):
    storage = f"sqlite:///{tmp_path / 'ddp.db'}"
    env = {**os.environ, "NAS_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(free_port()),
        "-m",
        "nas",
        "search",
        *TINY,
        "--budget",
        "3",
        "--final-epochs",
        "0",
        "--storage",
        storage,
        "--json",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    summaries = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(summaries) == 1, "only rank 0 reports"
    summary = json.loads(summaries[0])
    study = optuna.load_study(study_name=summary["study"], storage=storage)
    assert len(optuna.get_all_study_summaries(storage)) == 1, "only rank 0 writes the ledger"
    config = Ledger(storage, summary["study"], get_space("x3d")).config()
    assert config["estimator_settings"]["processes"] == 2
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert summary["trained"] == 3 and len(complete) >= 2 and all(t.user_attrs["clips"] > 0 for t in complete)
    followed = re.findall(r"rank 1 trained (\S+) \(run 0\): top-1 ([0-9.]+)", done.stderr)
    recorded = [(get_space("x3d").point(t.params).key, t.value) for t in complete]
    assert [key for key, _ in followed] == [key for key, _ in recorded], done.stderr[-3000:]  # rank 1 trained each too
    assert all(float(top1) == pytest.approx(value, abs=1e-6) for (_, top1), (_, value) in zip(followed, recorded))


@pytest.mark.slow
def test_bad_input_under_torchrun_is_one_line_from_rank_zero(tmp_path):
    env = {**os.environ, "NAS_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(free_port()),
        "-m",
        "nas",
        "search",
        "--data",
        str(tmp_path / "missing"),
        "--storage",
        str(tmp_path / "x.db"),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode != 0
    ours = [line for line in done.stderr.splitlines() if line.startswith("nas: error:")]
    assert len(ours) == 1 and "missing does not exist" in ours[0] and "[rank" not in done.stderr, done.stderr[-2000:]
    assert not (tmp_path / "x.db").exists(), "nothing written"
