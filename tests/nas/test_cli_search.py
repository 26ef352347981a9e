"""``nas search`` end to end on a tiny setting: real training, determinism, SIGKILL resume, bad input."""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest

from nas.cli import main
from nas.engine import proxy_defaults, proxy_schedule
from nas.ledger import Ledger
from spaces import get_space
from spaces.errors import NasError

TINY_DATA = "synth:classes=4,clips_per_class=6,frames=16,size=32,seed=3,val_fraction=0.15,test_fraction=0.15"
TINY = [
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
    "--final-epochs",
    "1",
    "--threads",
    "1",
    "--tie-rule",
    "best",
]  # 4 validation clips tie every step: reseeding is tested on its own (test_repeats_...)


def nas_command(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from nas.cli import main; sys.exit(main())", *args]


def run_search(tmp_path: Path, name: str, *extra: str) -> tuple[dict, list]:
    env = {**os.environ, "NAS_CACHE_DIR": str(tmp_path / f"{name}-cache")}
    storage = f"sqlite:///{tmp_path / name}.db"
    done = subprocess.run(
        nas_command("search", *TINY, "--storage", storage, "--json", *extra),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return summary, optuna.load_study(study_name=summary["study"], storage=storage).get_trials()


def comparable(summary: dict) -> dict:
    """The outcome without timings."""
    return {"path": summary["path"], "chosen": summary["chosen"], "trained": summary["trained"]}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return run_search(tmp_path_factory.mktemp("reference"), "ref")


def test_every_trial_records_the_uncertainty_of_its_accuracy(reference):
    """The standard error over the validation clips, on every completed trial, final training included."""
    _, trials = reference
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert complete
    for trial in complete:
        clips, se = trial.user_attrs["val_clips"], trial.user_attrs["accuracy_se"]
        p = min(max(trial.value, 0.5 / clips), 1 - 0.5 / clips)
        assert clips > 0 and se == pytest.approx((p * (1 - p) / clips) ** 0.5)


def test_repeats_train_every_point_under_k_seeds_and_resume_after_a_kill(tmp_path):
    env = {**os.environ, "NAS_CACHE_DIR": str(tmp_path / "cache")}
    storage = f"sqlite:///{tmp_path / 'repeats'}.db"
    command = nas_command(
        "search", *TINY, "--final-epochs", "0", "--repeats", "2", "--tie-rule", "reseed", "--storage", storage, "--json"
    )
    assert kill_when(command, env, "(run 2)"), "no second seed was trained"
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    trials = optuna.load_study(study_name=summary["study"], storage=storage).get_trials()
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    runs = [(json.dumps(t.params, sort_keys=True), t.user_attrs["repeat"]) for t in complete]
    assert len(runs) == len(set(runs)), "a finished run was trained twice"
    points = {p for p, _ in runs}
    assert {r for p, r in runs} <= {0, 1, 2, 3} and all((p, 0) in runs and (p, 1) in runs for p in points)
    settled = [t for t in complete if t.user_attrs["repeat"] in (0, 1)]
    seeds = {t.user_attrs["train_seed"] for t in settled}
    assert len(seeds) == len(settled), "two runs shared a training seed"
    assert all(step["runs"] >= 2 for step in summary["path"] if step["accuracy"] is not None)


def test_the_search_trains_for_real_and_prints_path_and_chosen_model(reference):
    summary, trials = reference
    assert summary["stopped"] == "finished" and summary["chosen"]["final_accuracy"] is not None
    roles = [t.user_attrs["role"] for t in trials]
    assert roles[0] == "base" and roles.count("candidate") == 12 and roles[-1] == "final"
    assert [s["role"] for s in summary["path"]][:3] == ["base", "expansion", "overshoot"]
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert all(t.user_attrs["clips_per_second"] > 0 and t.user_attrs["fidelity"] in (0.5, 1.0) for t in complete)
    failed = [
        t for t in trials if t.state == optuna.trial.TrialState.FAIL
    ]  # step 1 temporal: 2 frames at stride 16 > 16-frame clips
    assert failed and all("span" in t.user_attrs["fail_reason"] and t.user_attrs["retry"] is False for t in failed)
    assert summary["chosen"]["gmacs"] <= 0.0009
    study = optuna.load_study(study_name=summary["study"], storage=summary["storage"])
    assert study.user_attrs["expansion_path"] == summary["path"] and study.user_attrs["chosen"] == summary["chosen"]


def test_same_seed_same_search(reference, tmp_path):
    summary, trials = run_search(tmp_path, "again")
    assert comparable(summary) == comparable(reference[0])
    assert [(t.params, t.value) for t in trials] == [(t.params, t.value) for t in reference[1]]


class _Lines:
    """Reads a child's stderr lines on a thread so the test can wait for one."""

    def __init__(self, stream) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(line) for line in stream], daemon=True).start()

    def wait_for(self, text: str, count: int = 1, timeout: float = 120) -> bool:
        deadline, seen = time.monotonic() + timeout, 0
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.05)
            except queue.Empty:
                continue
            seen += text in line
            if seen >= count:
                return True
        return False


def kill_when(command: list[str], env: dict[str, str], text: str, count: int = 1) -> bool:
    """Start ``command``, SIGKILL its process group soon after its stderr showed ``text`` ``count`` times (else after a
    timeout); whether the text came."""
    child = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    seen = _Lines(child.stderr).wait_for(text, count=count)
    time.sleep(0.2)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    return seen


def _running_trials(storage: str) -> int:
    """Trials left RUNNING in the ledger by a killed search (0 before its study exists)."""
    studies = optuna.get_all_study_summaries(storage) if os.path.exists(storage[len("sqlite:///") :]) else []
    return sum(
        t.state == optuna.trial.TrialState.RUNNING
        for s in studies
        for t in optuna.load_study(study_name=s.study_name, storage=storage).get_trials()
    )


def test_sigkill_at_random_moments_then_resume_gives_the_same_result(reference, tmp_path):
    rng = random.Random(11)
    env = {**os.environ, "NAS_CACHE_DIR": str(tmp_path / "cache")}
    storage = f"sqlite:///{tmp_path / 'killed'}.db"
    command = nas_command("search", *TINY, "--storage", storage, "--json")
    hits = 0  # kills that landed while a trial was running (it stays RUNNING in the ledger until the next run)
    for round_ in range(6):
        child = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        lines = _Lines(child.stderr)
        if round_ == 0:  # during the cache build
            assert lines.wait_for("building the default clip cache")
            time.sleep(rng.uniform(0.0, 0.2))
        else:  # mid-training, after a random number of finished trials
            assert lines.wait_for("top-1", count=rng.randint(1, 2))
            time.sleep(rng.uniform(0.05, 0.3))
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        hits += _running_trials(storage)
        if round_ == 0:
            assert not any(p.name.endswith("-raw") for p in (tmp_path / "cache").iterdir()), "the build had finished"
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert comparable(summary) == comparable(reference[0])
    trials = optuna.load_study(study_name=summary["study"], storage=storage).get_trials()
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    keys = [(json.dumps(t.params, sort_keys=True), t.user_attrs["fingerprint"]) for t in complete]
    assert len(keys) == len(set(keys)), "a finished trial was trained twice"
    assert sorted((json.dumps(t.params, sort_keys=True), t.value) for t in complete) == sorted(
        (json.dumps(t.params, sort_keys=True), t.value)
        for t in reference[1]
        if t.state == optuna.trial.TrialState.COMPLETE
    )
    interrupted = [t for t in trials if t.state == optuna.trial.TrialState.FAIL and t.user_attrs["retry"]]
    assert hits >= 1 and len(interrupted) == hits, (hits, len(interrupted))  # each kill mid-trial: one trial to retry
    retried = {t.user_attrs.get("retry_of") for t in trials}
    assert all(t.number in retried and "died mid-trial" in t.user_attrs["fail_reason"] for t in interrupted)
    for_good = sorted(
        json.dumps(t.params, sort_keys=True)
        for t in trials
        if t.state == optuna.trial.TrialState.FAIL and not t.user_attrs["retry"]
    )
    assert for_good == sorted(
        json.dumps(t.params, sort_keys=True) for t in reference[1] if t.state == optuna.trial.TrialState.FAIL
    )


def test_sigterm_is_a_polite_stop_that_marks_the_trial_for_retry(tmp_path):
    env = {**os.environ, "NAS_CACHE_DIR": str(tmp_path / "cache")}
    storage = f"sqlite:///{tmp_path / 'term'}.db"
    child = subprocess.Popen(
        nas_command("search", *TINY, "--storage", storage),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = _Lines(child.stderr)
    assert lines.wait_for("top-1")
    time.sleep(0.1)
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=60) == 130
    time.sleep(0.5)
    rest = []
    while not lines.lines.empty():
        rest.append(lines.lines.get())
    assert any("nas: interrupted" in line for line in rest) and not any("Traceback" in line for line in rest), "".join(
        rest
    )
    (name,) = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    trials = optuna.load_study(study_name=name, storage=storage).get_trials()
    assert not [t for t in trials if t.state == optuna.trial.TrialState.RUNNING], (
        "a trial was left running",
        rest,
        [(t.number, t.state, t.user_attrs.get("fail_reason"), t.user_attrs.get("role")) for t in trials],
    )
    stopped = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    assert all(t.user_attrs["retry"] and t.user_attrs["fail_reason"] == "interrupted" for t in stopped)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--strategy", "annealing"], "unknown strategy 'annealing'"),
        (["--target-gflops", "0.0001"], "below the base network"),
        (["--target-gflops", "-1"], "argument --target-gflops: -1 is out of range; give a number above 0"),
        (["--storage", "sqlite:////nonexistent-dir/x/y.db"], "cannot open storage"),
        (["--data", "/nonexistent/cache"], "/nonexistent/cache"),
        (["--time-limit", "soon"], "argument --time-limit: 'soon' is not a duration"),
        (["--space", "nope"], "unknown space 'nope'"),
        (["--data", "synth:colours=3"], "unknown setting 'colours'"),
        (["--data", "synth-image:colours=3"], "--data synth-image: unknown setting 'colours'"),
        (["--data", "synth-image:size=8"], "size must be a whole number in [16, 1024], got 8"),
        (["--repeats", "0"], "argument --repeats: 0 is out of range; give a whole number from 1 to 20"),
        (["--repeats", "-2"], "argument --repeats: -2 is out of range; give a whole number from 1 to 20"),
        (["--repeats", "1.5"], "argument --repeats: '1.5' is not a whole number"),
        (["--repeats", "many"], "argument --repeats: 'many' is not a whole number"),
        (["--tie-rule", "coin"], "unknown tie rule 'coin'; choose one of: reseed, cheaper, best"),
        (["--tie-sigmas", "nan"], "argument --tie-sigmas: nan is out of range; give a number from 0 to 10"),
        (["--tie-max-runs", "0"], "argument --tie-max-runs: 0 is out of range; give a whole number from 1 to 20"),
        (["--seed-spread", "2"], "argument --seed-spread: 2 is out of range; give a number from 0 to 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NAS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    assert main(["search", *TINY, *args]) == 2  # a repeated option: the last one counts
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err and "Traceback" not in err, err
    assert not (tmp_path / "nas.db").exists(), "a failed start left a ledger behind"


@pytest.mark.parametrize("strategy", ["random", "tpe", "nsga2", "evolution", "nni-tpe", "nni-evolution"])
def test_open_ended_strategies_run_with_the_same_defaults_and_a_budget(tmp_path, strategy):
    summary, trials = run_search(tmp_path, strategy, "--strategy", strategy, "--budget", "4")
    search = [t for t in trials if t.user_attrs["role"] != "final"]
    trained = [t for t in search if t.user_attrs.get("trained", True)]
    free = [t for t in search if not t.user_attrs.get("trained", True)]  # clips longer than the data: no budget spent
    assert all(t.state == optuna.trial.TrialState.FAIL and "span" in t.user_attrs["fail_reason"] for t in free)
    assert summary["stopped"] == "budget" and len(trained) == 4 and summary["trained"] == 4 and summary["path"] == []
    assert all(t.user_attrs["role"] in ("sample", "initial") and t.user_attrs["macs"] <= 900_000 for t in search)
    assert trials[-1].user_attrs["role"] == "final" and summary["chosen"]["final_accuracy"] is not None


def test_open_ended_strategies_get_the_coordinate_searchs_budget():
    from nas.strategies.coordinate import CoordinateExpansion

    space = get_space("x3d", num_classes=12, base_crop=48, base_stride=8, stage_blocks=(1, 1, 2, 1), head_width=256)
    assert len(CoordinateExpansion(space, target=25_000_000).planned_costs([])) == 26  # the default run's 26 models


def test_the_image_space_searches_on_its_own_default_data(tmp_path):
    """``--space x2d-image`` without ``--data`` trains on the synthetic images, in their own cache."""
    env = {**os.environ, "NAS_CACHE_DIR": str(tmp_path / "cache")}
    storage = f"sqlite:///{tmp_path / 'image'}.db"
    tiny = [
        "--space-option",
        "base_crop=16",
        "--space-option",
        "head_width=32",
        "--target-gflops",
        "0.0025",
        "--epochs",
        "0.05",
        "--final-epochs",
        "0.05",
        "--threads",
        "1",
        "--tie-rule",
        "best",
    ]
    done = subprocess.run(
        nas_command(
            "search", "--space", "x2d-image", "--strategy", "coordinate", *tiny, "--storage", storage, "--json"
        ),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["stopped"] == "finished" and summary["chosen"]["gmacs"] <= 0.0025
    assert [s["role"] for s in summary["path"]][:2] == ["base", "expansion"]
    assert {s["operation"] for s in summary["path"][1:]} <= {"spatial", "width", "bottleneck", "depth"}
    assert [p.name.split("-")[0] for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")] == ["synthimg"]
    study = optuna.load_study(study_name=summary["study"], storage=storage)
    assert study.user_attrs["data"] == "synth-image"  # what a worker reads
    schedule = Ledger(storage, summary["study"], get_space("x2d-image")).config()["estimator_settings"]["schedule"]
    assert (schedule["epochs"], schedule["lr"]) == (0.05, 0.002)  # --epochs over the space's own schedule, its lr kept
    trials = [t for t in study.get_trials() if t.state == optuna.trial.TrialState.COMPLETE]
    assert trials and all(len(t.user_attrs["input_shape"]) == 4 for t in trials)  # images: batch x channels x H x W


def test_each_space_brings_its_proxy_schedule_and_the_flags_override_it():
    """x3d trains 6 epochs at the schedule's lr; x2d-image 6 epochs, gentler; flags win."""
    assert proxy_schedule(proxy_defaults("x3d"), None, None) == {"epochs": 6.0}
    assert proxy_schedule(proxy_defaults("x2d-image"), None, None) == {"epochs": 6.0, "lr": 0.002}
    assert proxy_schedule(proxy_defaults("x2d-image"), 2.0, 0.01) == {"epochs": 2.0, "lr": 0.01}
    for epochs, lr in ((0.0, None), (float("nan"), None), (None, -1.0)):
        with pytest.raises(NasError, match="must be a positive number"):
            proxy_schedule(proxy_defaults("x3d"), epochs, lr)


def test_quiet_shows_nothing_but_the_result_and_the_default_shows_progress(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NAS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    assert main(["search", *TINY, "--budget", "2", "--final-epochs", "0", "--quiet"]) == 0
    quiet = capsys.readouterr()
    assert quiet.err == "" and "models trained" in quiet.out
    assert main(["search", *TINY, "--budget", "3", "--final-epochs", "0"]) == 0
    default = capsys.readouterr().err
    assert "resuming study" in default and "[3/" in default, default


def test_time_limit_starts_no_training_after_it_and_a_longer_one_goes_on(reference, tmp_path, monkeypatch, capsys):
    """--time-limit: the training running at the limit finishes and is kept; none starts after; a rerun goes on."""
    import datetime

    monkeypatch.setenv("NAS_CACHE_DIR", str(tmp_path / "cache"))
    storage = f"sqlite:///{tmp_path / 'limited.db'}"
    main(["search", *TINY, "--storage", storage, "--budget", "1"])  # the cache built and one training: warm start
    capsys.readouterr()
    (study,) = optuna.get_all_study_summaries(storage)
    before = len(optuna.load_study(study_name=study.study_name, storage=storage).get_trials())
    assert main(["search", *TINY, "--storage", storage, "--time-limit", "1", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["stopped"] == "time limit" and 1 < summary["trained"] < reference[0]["trained"], summary
    trials = optuna.load_study(study_name=summary["study"], storage=storage).get_trials()
    assert all(t.state != optuna.trial.TrialState.RUNNING for t in trials), "the running training was not finished"
    new = trials[before:]
    first = min(t.datetime_start for t in new)  # the runner's clock starts at most this early
    late = [t for t in new if t.datetime_start > first + datetime.timedelta(seconds=1.2)]
    assert late == [], f"{len(late)} trainings started after the limit"
    assert main(["search", *TINY, "--storage", storage, "--time-limit", "1h", "--json"]) == 0
    assert comparable(json.loads(capsys.readouterr().out.strip().splitlines()[-1])) == comparable(reference[0])
