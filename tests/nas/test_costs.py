"""--cost latency: bad combinations refused in one line, the target bounded, the cost rebuilt from a study's config."""

from __future__ import annotations

import json
import os
import subprocess

import optuna
import pytest

from nas.cli import main
from nas.costs import (
    MICROSECONDS_PER_MS,
    LatencyCost,
    cost_config,
    cost_from_config,
    unit_of,
)
from nas.strategies.coordinate import CoordinateExpansion
from spaces import get_space
from spaces.errors import NasError
from tests.nas.test_cli_search import TINY, nas_command

SETTINGS = {"threads": 1, "warmup": 1, "repeats": 3}


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--target-ms", "3"], "--target-ms 3 needs --cost latency"),
        (["--cost", "latency"], "--cost latency needs a latency target"),
        (["--cost", "latency", "--target-ms", "0"], "argument --target-ms: 0 is out of range"),
        (["--cost", "latency", "--target-ms", "2", "--target-gflops", "0.1"], "--target-gflops 0.1 is a MACs target"),
        (
            ["--cost", "latency", "--target-ms", "2", "--latency-threads", "0"],
            "argument --latency-threads: 0 is out of range",
        ),
    ],
)
def test_bad_cost_combinations_give_one_line(flags, message, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NAS_CACHE_DIR", str(tmp_path / "cache"))
    args = [a for a in TINY if a not in ("--target-gflops", "0.0009")]
    assert main(["search", *args, "--storage", str(tmp_path / "x.db"), *flags]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1
    assert not (tmp_path / "x.db").exists()


@pytest.fixture
def latency_cost(tmp_path, monkeypatch, toy_space_registered):
    monkeypatch.setenv("NAS_CACHE_DIR", str(tmp_path / "cache"))
    return LatencyCost(get_space("toy"), SETTINGS)


def test_the_latency_target_must_lie_between_the_base_and_the_largest_network(latency_cost):
    base = latency_cost(latency_cost.space.base)
    with pytest.raises(NasError, match="below the base network's predicted"):
        CoordinateExpansion(latency_cost.space, target=base - 1, cost=latency_cost)
    with pytest.raises(NasError, match="above the largest network .* channels=64,layers=4,resolution=32"):
        CoordinateExpansion(latency_cost.space, target=10**12, cost=latency_cost)
    strategy = CoordinateExpansion(latency_cost.space, target=2 * base, cost=latency_cost)
    assert strategy.propose([])[0].point == latency_cost.space.base and strategy.fits(latency_cost.space.base)


def test_the_config_records_the_cost_and_rebuilds_it_only_on_the_same_device(latency_cost):
    space = latency_cost.space
    config = json.loads(json.dumps(cost_config(latency_cost)))
    assert cost_config(None) == {} and cost_from_config(space, {}) is None
    assert config["cost"]["kind"] == "latency" and unit_of(config).show(2500) == "2.5 ms"
    first = latency_cost(space.base)  # the search predicts first and saves the table ...
    rebuilt = cost_from_config(space, config)
    assert rebuilt(space.base) == first  # ... which a resumed search or a worker on this machine reads back
    config["cost"]["identity"]["cpu"] = "another CPU"
    with pytest.raises(NasError, match="other latencies .*cpu"):
        cost_from_config(space, config)


def test_a_latency_search_records_its_cost_and_reports_in_ms(tmp_path, monkeypatch):
    env = {**os.environ, "NAS_CACHE_DIR": str(tmp_path / "cache")}
    args = [a for a in TINY if a not in ("--target-gflops", "0.0009")]
    storage = f"sqlite:///{tmp_path / 'lat.db'}"
    search = subprocess.run(
        nas_command(
            "search",
            *args,
            "--cost",
            "latency",
            "--target-ms",
            "50",
            "--budget",
            "2",
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
    assert search.returncode == 0, search.stderr[-2000:]
    summary = json.loads(search.stdout.strip().splitlines()[-1])
    assert summary["cost"] == "ms" and "target 50 ms" in search.stderr
    study = optuna.load_study(study_name=summary["study"], storage=storage)
    config = json.loads(study.user_attrs["nas_config"])
    assert (
        config["cost"]["kind"] == "latency"
        and config["target_us"] == 50 * MICROSECONDS_PER_MS
        and "target_macs" not in config
    )
    trial = study.get_trials()[0]
    assert (
        trial.user_attrs["macs"] < 10**7 and trial.user_attrs["cost"] != trial.user_attrs["macs"]
    )  # MACs and microseconds apart
    report = subprocess.run(
        nas_command("report", "--storage", storage), env=env, capture_output=True, text=True, timeout=120
    )
    assert report.returncode == 0, report.stderr[-2000:]
    assert "50 ms" in report.stdout
    plotted = {}
    monkeypatch.setenv("NAS_CACHE_DIR", str(tmp_path / "cache"))  # the search's latency table, for the cost rebuilt
    monkeypatch.setattr("nas.plots.plot_pareto", lambda studies, **options: plotted.update(studies=studies, **options))
    assert main(["report", "--storage", storage, "--study", summary["study"], "--out", str(tmp_path / "report")]) == 0
    assert plotted["latency"] and plotted["target"] == 50.0  # the Pareto plot is over predicted ms, with the target
    costs_ms = sorted(cost for cost, _ in plotted["studies"][0]["points"])
    recorded = sorted(t.user_attrs["cost"] / MICROSECONDS_PER_MS for t in study.get_trials() if t.value is not None)
    assert costs_ms == recorded


class ThousandsOfMacs:
    """A cost in another unit than MACs, which it names (thousands of MACs, shown as 'kMACs')."""

    from nas.costs import Unit

    unit = Unit("kMACs", 1)

    def __init__(self, space) -> None:
        self.space = space

    def __call__(self, point) -> int:
        return self.space.complexity(point).macs // 1000


def test_messages_and_records_carry_the_costs_own_unit():
    space = get_space("x3d")
    cost = ThousandsOfMacs(space)
    with pytest.raises(
        NasError, match=r"compute target \(1 kMACs\) is below the base network.s \([\d.e+]+ kMACs"
    ) as error:
        CoordinateExpansion(space, target=1, cost=cost)
    assert "GMACs" not in str(error.value) and "--target-gflops" not in str(error.value)
    strategy = CoordinateExpansion(space, target=cost(space.base) * 40, cost=cost)
    assert strategy.unit is ThousandsOfMacs.unit and strategy.propose([], 1)[0].point == space.base
    with pytest.raises(NasError, match=r"GMACs\) is below .*raise --target-gflops"):
        CoordinateExpansion(space, target=1)  # MACs name themselves as GMACs
