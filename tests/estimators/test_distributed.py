"""One candidate trained on two processes (torchrun, gloo on CPU) against the same training in one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from estimators import distributed
from estimators.data.writer import CacheWriter
from tests.pg_cluster import free_port

JOB = Path(__file__).with_name("ddp_job.py")
ROOT = Path(__file__).resolve().parents[2]


def test_one_process_shards_are_the_data_loaders_batches():
    for count, batch, drop_last in [(37, 8, True), (37, 8, False), (5, 8, False), (16, 8, True)]:
        loader = torch.utils.data.DataLoader(
            list(range(count)),
            batch_size=batch,
            shuffle=True,
            generator=torch.Generator().manual_seed(5),
            drop_last=drop_last,
        )
        assert list(distributed.shard_batches(count, batch, seed=5, drop_last=drop_last, group=None)) == [
            b.tolist() for b in loader
        ]


def test_two_ranks_split_each_batch_between_them():
    ranks = [distributed.ProcessGroup(rank, 2, rank) for rank in (0, 1)]
    whole = list(distributed.shard_batches(40, 8, seed=3, drop_last=True, group=None))
    halves = [list(distributed.shard_batches(40, 8, seed=3, drop_last=True, group=r)) for r in ranks]
    assert [a + b for a, b in zip(*halves)] == whole and all(len(b) == 4 for h in halves for b in h)
    with pytest.raises(Exception, match="does not split evenly over 3"):
        list(distributed.shard_batches(40, 8, seed=3, drop_last=True, group=distributed.ProcessGroup(0, 3, 0)))


def test_the_environment_names_the_launch():
    assert distributed.from_environment({}) is None and distributed.from_environment({"WORLD_SIZE": "1"}) is None
    assert distributed.from_environment(
        {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"}
    ) == distributed.ProcessGroup(1, 2, 1)
    with pytest.raises(Exception, match="outside WORLD_SIZE"):
        distributed.from_environment({"WORLD_SIZE": "2", "RANK": "2"})


@pytest.fixture(scope="module")
def colour_cache(tmp_path_factory) -> Path:
    """Three classes told apart by their dominant colour: any network learns them in a few epochs."""
    path = tmp_path_factory.mktemp("ddp") / "colours"
    rng = np.random.default_rng(0)
    with CacheWriter(
        path, codec="raw", fps=30, classes=["red", "green", "blue"], source_fingerprint="colour-test"
    ) as writer:
        for index in range(90):
            label, split = index % 3, "val" if index % 5 == 0 else "train"
            frames = rng.integers(0, 90, size=(4, 20, 20, 3), dtype=np.uint8)
            frames[..., label] += 150
            writer.add(f"clip{index:03d}", label, split, frames)
    return path


def _run(command: list[str], out: Path) -> list[dict]:
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command + [str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(p.read_text()) for p in sorted(out.glob("rank*.json"))]


@pytest.mark.slow
def test_two_processes_reach_the_accuracy_of_one(colour_cache, tmp_path):
    (alone,) = _run([sys.executable, str(JOB), str(colour_cache)], tmp_path / "one")
    ranks = _run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc-per-node",
            "2",
            "--master-addr",
            "127.0.0.1",
            "--master-port",
            str(free_port()),
            str(JOB),
            str(colour_cache),
        ],
        tmp_path / "two",
    )
    assert [r["world"] for r in ranks] == [2, 2]
    first, second = ranks
    assert first["weights"] == second["weights"], "DDP left the ranks with different weights"
    assert first["top1"] == second["top1"] and first["loss"] == second["loss"], "the ranks scored differently"
    assert first["clips"] == alone["clips"] and first["epochs"] == alone["epochs"], "the global batch changed"
    assert alone["top1"] >= 0.9 and first["top1"] >= 0.9, (alone, first)
    assert abs(first["top1"] - alone["top1"]) <= 0.1 and first["loss"] == pytest.approx(alone["loss"], rel=0.5, abs=0.1)
    assert first["train_loss"][-1] < first["train_loss"][0] * 0.5, first["train_loss"]
