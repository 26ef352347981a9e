"""A disk that fills up under the clip cache, the ledger or the benchmark file (a size-limited tmpfs).

Each time: one line naming the full disk, the file as it was after its last
complete write, and the same command finishing the work once space is freed.
"""

from __future__ import annotations

import json

import optuna
import pytest

from .conftest import TINY_SEARCH, assert_one_line_failure, listing

SYNTH = ["data", "synth", "--classes", "4", "--clips-per-class", "40", "--frames", "16", "--size", "48"]


def test_the_clip_cache_on_a_full_disk(nas, small_disk):
    out = small_disk.path / "cache"
    assert_one_line_failure(
        nas(*SYNTH, "--out", out), "cannot write clip cache", "is full", "re-run the same command", code=1
    )
    assert not out.exists(), "a cache with nothing committed was left behind"
    small_disk.resize("64m")
    assert nas(*SYNTH, "--out", out).code == 0
    checked = nas("data", "inspect", out, "--verify", "--json")
    assert (
        checked.code == 0
        and json.loads(checked.out)["videos"] == 160
        and json.loads(checked.out)["corrupt_records"] == []
    )


def test_a_new_cache_on_a_disk_with_no_free_byte(nas, small_disk):
    """LMDB maps its lock file and pages: on a disk with no free block that is a SIGBUS, unless refused first."""
    small_disk.fill()
    out = small_disk.path / "cache"
    outcome = nas(*SYNTH, "--out", out)
    assert outcome.code != -7 and outcome.code != 135, "killed by SIGBUS"
    assert_one_line_failure(outcome, "cannot write clip cache", "is full", code=1)
    assert sorted(p.name for p in small_disk.path.iterdir()) == ["filler"], "a cache folder or lock file was left"


@pytest.mark.slow
def test_the_ledger_on_a_full_disk(nas, small_disk):
    ledger = small_disk.path / "nas.db"
    search = [*TINY_SEARCH, "--final-epochs", "0", "--storage", ledger, "--study", "s"]
    assert nas(*search, "--budget", "2").code == 0
    small_disk.fill()
    assert_one_line_failure(
        nas(*search, "--budget", "5"),
        "cannot write to storage",
        "disk",
        "full",
        "re-run the same command to resume",
        code=1,
    )
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{ledger}")  # still a sound database
    kept = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(kept) >= 2
    small_disk.free()
    done = nas(*search, "--budget", "5")
    assert done.code == 0, done.err[-2000:]
    trials = optuna.load_study(study_name="s", storage=f"sqlite:///{ledger}").trials
    complete = [json.dumps(t.params, sort_keys=True) for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == len(set(complete)), "a finished trial was trained again"
    assert {t.number for t in kept} <= {t.number for t in trials if t.state == optuna.trial.TrialState.COMPLETE}


@pytest.mark.slow
def test_the_benchmark_file_on_a_full_disk(nas, small_disk):
    table = small_disk.path / "table.h5"
    build = [
        "bench",
        "build",
        "--out",
        table,
        "--data",
        "synth:classes=4,clips_per_class=6,frames=16,size=32,seed=3,val_fraction=0.15,test_fraction=0.15",
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
        "--threads",
        "1",
        "--seeds",
        "0",
    ]
    assert nas(*build, "--points", "3").code == 0  # at least the coordinate path's points
    built = json.loads(nas("bench", "info", table, "--json").out)["points"]
    small_disk.fill()
    assert_one_line_failure(
        nas(*build, "--points", built + 3),
        "cannot write the benchmark file",
        "is full",
        "keeps every earlier run",
        code=1,
    )
    info = nas("bench", "info", table, "--json")
    assert info.code == 0 and json.loads(info.out)["points"] == built, info.err
    assert [p.name for p in small_disk.path.iterdir() if p.name.startswith(".table")] == [], "a temporary file was left"
    small_disk.free()
    assert nas(*build, "--points", built + 3).code == 0
    assert json.loads(nas("bench", "info", table, "--json").out)["points"] == built + 3


@pytest.mark.parametrize(
    "argv",
    [
        ["space", "export", "x3d", "--format", "json", "--out", "{ro}/a.json"],
        [
            "data",
            "synth",
            "--out",
            "{ro}/cache",
            "--classes",
            "2",
            "--clips-per-class",
            "3",
            "--frames",
            "8",
            "--size",
            "16",
        ],
        ["bench", "compare", "--out", "{ro}/results"],
        ["bench", "build", "--out", "{ro}/t.h5"],
        ["search", "--storage", "{ro}/nas.db", "--data", "synth:classes=2,clips_per_class=3,frames=8,size=16"],
    ],
    ids=lambda argv: " ".join(argv[:2]),
)
def test_outputs_on_a_read_only_disk_are_refused_before_any_work(nas, read_only, argv):
    outcome = nas(*[a.format(ro=read_only) for a in argv])
    line = assert_one_line_failure(outcome, "not writable", code=2)
    assert str(read_only) in line
    assert not any(name.startswith("nas-cache") for name in listing(nas.folder)), "data was built before the refusal"
