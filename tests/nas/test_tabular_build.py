"""The tabular benchmark build: real tiny trainings into plain HDF5, resumable, extendable, never half-written."""

from __future__ import annotations

import json
import random

import h5py
import pytest

from estimators.lookup import TableLookup
from estimators.proxy import ProxyAccuracy, ProxySchedule
from estimators.tabular import Table, TableError, add_run
from nas.cli import main
from nas.comparison import run_strategy
from nas.strategies.coordinate import CoordinateExpansion
from nas.tabular_build import TableBuilder
from spaces import get_space

OPTIONS = [
    "--space-option",
    "base_crop=16",
    "--space-option",
    "base_stride=16",
    "--space-option",
    "head_width=32",
    "--target-gflops",
    "0.0009",
    "--epochs",
    "2",
    "--threads",
    "1",
]


def build(cache, out, points: int, seeds: str = "0,1", capsys=None) -> dict:
    assert (
        main(
            [
                "bench",
                "build",
                "--out",
                str(out),
                "--points",
                str(points),
                "--seeds",
                seeds,
                "--data",
                str(cache),
                *OPTIONS,
                "--json",
            ]
        )
        == 0
    )
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1]) if capsys else {}


def space():
    return get_space(
        "x3d", num_classes=4, base_crop=16, base_stride=16, head_width=32, stage_blocks=(1, 1, 2, 1), dropout=0.2
    )


@pytest.fixture(scope="module")
def table_path(tiny_cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "table.h5"
    assert (
        main(
            [
                "bench",
                "build",
                "--out",
                str(out),
                "--points",
                "4",
                "--seeds",
                "0,1",
                "--data",
                str(tiny_cache),
                *OPTIONS,
            ]
        )
        == 0
    )
    return out


def test_the_file_reads_with_plain_h5py(table_path):
    with h5py.File(table_path, "r") as handle:
        meta = dict(handle["meta"].attrs)
        assert meta["format"] == "nas-tabular/1" and meta["space"] == "x3d" and list(meta["seeds"]) == [0, 1]
        assert json.loads(meta["schedule"])["epochs"] == 2.0 and "source_fingerprint" in json.loads(meta["data"])
        points = handle["points"]
        assert len(points) >= 4
        key = next(iter(points))
        group = points[key]
        assert group.attrs["key"] == key and {"frames", "stride", "crop", "macs", "params"} <= set(group.attrs)
        run = group["seed_0"]
        assert len(run["val_top1"][()]) == len(run["train_loss"][()]) == 2  # one value per epoch
        assert run["val_top1"][-1] == run.attrs["top1"] and run.attrs["train_seconds"] > 0


def test_seed_zero_is_what_nas_search_measures(table_path, tiny_cache):
    table = Table(table_path)
    entry = next(iter(table.entries.values()))
    estimator = ProxyAccuracy(tiny_cache, ProxySchedule(epochs=2, seed=0, threads=1), device="cpu")
    measured = estimator.evaluate(space(), space().point(dict(entry.values)))
    assert measured.metrics["accuracy"] == entry.runs[0].top1
    assert entry.runs[1].attrs["train_seed"] != entry.runs[0].attrs["train_seed"]


def test_the_coordinate_search_comes_first(table_path):
    table = Table(table_path)
    first = next(iter(table.entries.values()))
    assert first.key == space().base.key  # the coordinate search starts from the base network


def test_a_rerun_trains_nothing_and_more_points_extend_the_same_order(table_path, tiny_cache, tmp_path, capsys):
    copy = tmp_path / "copy.h5"
    copy.write_bytes(table_path.read_bytes())
    assert build(tiny_cache, copy, 4, capsys=capsys)["runs_now"] == 0
    before = Table(copy).entries
    outcome = build(tiny_cache, copy, 6, capsys=capsys)
    after = Table(copy).entries
    assert outcome["points"] == len(after) >= 6 and outcome["runs_now"] == 2 * (len(after) - len(before))
    assert all(
        repr(after[k].runs[s].top1) == repr(before[k].runs[s].top1) for k in before for s in (0, 1)
    )  # nan: failed


def test_other_settings_are_refused_with_one_line(table_path, tiny_cache, tmp_path, capsys):
    copy = tmp_path / "copy.h5"
    copy.write_bytes(table_path.read_bytes())
    assert main(["bench", "build", "--out", str(copy), "--seeds", "0,1,2", "--data", str(tiny_cache), *OPTIONS]) == 2
    err = capsys.readouterr().err
    assert "built with other settings (seeds)" in err and err.count("\n") == 1
    assert copy.read_bytes() == table_path.read_bytes()


def test_a_failed_write_leaves_the_last_complete_file(table_path, tmp_path, monkeypatch):
    copy = tmp_path / "copy.h5"
    copy.write_bytes(table_path.read_bytes())

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(h5py.Group, "create_dataset", broken)
    with pytest.raises(TableError, match="No space left on device"):
        add_run(copy, {"key": "x", "axes": []}, 0, {"top1": 0.5}, [{"epoch": 1, "val_top1": 0.5}])
    assert copy.read_bytes() == table_path.read_bytes() and [p.name for p in tmp_path.iterdir()] == ["copy.h5"]


def test_info_and_a_missing_or_foreign_file(table_path, tmp_path, capsys):
    assert main(["bench", "info", str(table_path)]) == 0
    assert "complete points: " in capsys.readouterr().out
    assert main(["bench", "info", str(tmp_path / "none.h5")]) == 2
    assert "does not exist; build one with 'nas bench build" in capsys.readouterr().err
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as handle:
        handle.create_group("meta").attrs["format"] = "other/1"
    assert main(["bench", "info", str(foreign)]) == 2
    assert "has format 'other/1'" in capsys.readouterr().err


def test_the_coordinate_path_is_complete_once_enough_points_exist(tiny_cache, tmp_path):
    sp = space()
    estimators = {0: ProxyAccuracy(tiny_cache, ProxySchedule(epochs=0.5, seed=0, threads=1, curve=True), device="cpu")}
    builder = TableBuilder(str(tmp_path / "t.h5"), sp, estimators, target=900_000)
    builder.build(points=1)
    table = Table(tmp_path / "t.h5")
    assert CoordinateExpansion(sp, target=900_000).is_finished(builder.coordinate_history(table))


def test_fidelity_retrains_a_seeded_sample_on_a_longer_schedule(table_path, tiny_cache, tmp_path, capsys):
    long = tmp_path / "long.h5"
    assert (
        main(
            [
                "bench",
                "fidelity",
                "--table",
                str(table_path),
                "--out",
                str(long),
                "--epochs",
                "3",
                "--points",
                "4",
                "--data",
                str(tiny_cache),
                "--threads",
                "1",
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    short_keys = list(Table(table_path).entries)
    random.Random(0).shuffle(short_keys)  # --sample-seed 0
    long_table = Table(long)
    assert list(long_table.entries) == short_keys[:4] and long_table.meta["schedule"]["epochs"] == 3.0
    assert all(
        len(run.curve["val_top1"]) == 3
        for e in long_table.entries.values()
        for run in e.runs.values()
        if not run.failed
    )
    assert result["long_epochs"] == 3.0 and result["short_epochs"] == 2.0 and result["points"] <= 4


#: A target that keeps the tiny expansion region to a handful of points (measured: see the test).
REGION_TARGET = 500_000


def test_points_all_fills_the_whole_expansion_region_after_every_seeds_coordinate_path(tiny_cache, tmp_path):
    region_space = get_space(
        "x3d",
        num_classes=4,
        base_crop=16,
        base_stride=16,
        head_width=32,
        stage_blocks=(1, 1, 2, 1),
        dropout=0.2,
        region="expansion",
    )
    estimators = {
        seed: ProxyAccuracy(tiny_cache, ProxySchedule(epochs=0.5, seed=seed, threads=1, curve=True), device="cpu")
        for seed in (0, 1)
    }
    builder = TableBuilder(
        str(tmp_path / "dense.h5"),
        region_space,
        estimators,
        target=REGION_TARGET,
        compare_seeds=2,
        follow=("coordinate", "compound"),
    )
    assert builder.build(points=None)["stopped"] == "done"
    table = Table(tmp_path / "dense.h5")
    within = {
        p.key for p in region_space.grid() if region_space.complexity(p).macs <= REGION_TARGET and builder.servable(p)
    }  # brute force
    assert within and {p.key for p in builder.region_points()} == within and within <= set(table.entries)
    assert all(table.complete(key) for key in table.entries)  # every point under both seeds
    for seed_index in (0, 1):  # each seed's own coordinate search is in the table, its overshooting step included
        assert CoordinateExpansion(region_space, target=REGION_TARGET).is_finished(
            builder.coordinate_history(table, seed_index)
        )
    assert table.meta["space_settings"]["region"] == "expansion"
    assert builder.build(points=None)["runs_now"] == 0  # complete: a rerun trains nothing
    for name in ("coordinate", "compound"):  # their comparison runs under --seeds 2: answered by the table alone
        for bench_seed in range(2):
            run = run_strategy(
                region_space,
                name,
                bench_seed,
                TableLookup(table, bench_seed=bench_seed),
                target=REGION_TARGET,
                budget=100,
            )
            assert run.history and all(record.point.key in table.entries for record in run.history)


def test_a_build_follows_only_searches_that_lay_a_path(tmp_path, capsys):
    assert main(["bench", "build", "--out", str(tmp_path / "t.h5"), "--follow", "coordinate,random"]) == 2
    err = capsys.readouterr().err
    assert "cannot follow 'random'" in err and err.count("\n") == 1 and not (tmp_path / "t.h5").exists()


def test_points_is_a_count_or_all(tmp_path, capsys):
    assert main(["bench", "build", "--out", str(tmp_path / "t.h5"), "--points", "every"]) == 2
    err = capsys.readouterr().err
    assert "'every' is neither a whole number nor 'all'" in err and err.count("\n") == 1
    assert not (tmp_path / "t.h5").exists()
