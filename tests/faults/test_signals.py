"""Ctrl-C (SIGINT) and SIGKILL at seeded random moments of a search and of a cache build.

After every kill the same command is run again until it finishes; the end
must be what an uninterrupted run gives: the same measured points with the
same accuracies, none trained twice, and Ctrl-C answered with one line.
"""

from __future__ import annotations

import json
import random
import signal
import time

import optuna
import pytest

from .conftest import TINY_SEARCH, Nas

SEARCH = [*TINY_SEARCH, "--storage", "ledger.db", "--study", "s", "--json"]
#: When a signal may land, as shares of an uninterrupted search's wall time on this machine: past interpreter
#: start-up, into data building, training, the end.  Shares, not seconds, so that on a fast machine the first
#: signal still lands before the search ends, and on a slow one it still reaches training.
MOMENTS = (0.1, 0.9)


def _measured(nas: Nas) -> list[tuple[str, float]]:
    trials = optuna.load_study(study_name="s", storage=f"sqlite:///{nas.folder / 'ledger.db'}").trials
    return sorted(
        (json.dumps(t.params, sort_keys=True) + t.user_attrs["role"], t.value)
        for t in trials
        if t.state == optuna.trial.TrialState.COMPLETE
    )


def _interrupt(nas: Nas, args: list[str], signum: int, delay: float) -> tuple[int, str]:
    child = nas.start(*args)
    time.sleep(delay)
    child.send_signal(signum)
    out, err = child.communicate(timeout=120)
    return child.returncode, err


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    nas = Nas(tmp_path_factory.mktemp("uninterrupted"))
    started = time.monotonic()
    done = nas(*SEARCH)
    assert done.code == 0, done.err[-2000:]
    return json.loads(done.out.strip().splitlines()[-1]), _measured(nas), time.monotonic() - started


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_a_search_killed_at_random_moments_ends_as_if_never_killed(nas, reference, signum):
    rng = random.Random(f"faults-{signum}")
    wall = reference[2]
    delays, landed = [round(rng.uniform(*MOMENTS) * wall, 2) for _ in range(3)], 0
    for delay in delays:
        code, err = _interrupt(nas, SEARCH, signum, delay)
        if code == 0:
            break  # it finished before the signal
        landed += 1
        assert "Traceback" not in err, (delay, err[-3000:])
        if signum == signal.SIGINT:
            assert code == 130 and err.strip().splitlines()[-1] == "nas: interrupted", (delay, err[-2000:])
        else:
            assert code == -signal.SIGKILL
    assert landed, f"no signal landed while the search ran (at {delays} s)"
    done = nas(*SEARCH)
    assert done.code == 0, (delays, done.err[-2000:])
    summary, measured = json.loads(done.out.strip().splitlines()[-1]), _measured(nas)
    assert measured == reference[1], f"kills at {delays} s changed what was measured"
    assert len({key for key, _ in measured}) == len(measured), "a finished trial was trained twice"
    assert (summary["path"], summary["chosen"]) == (reference[0]["path"], reference[0]["chosen"])


@pytest.mark.slow
def test_a_cache_build_interrupted_then_resumed_is_the_whole_cache(nas):
    build = ["data", "synth", "--classes", "6", "--clips-per-class", "30", "--frames", "32", "--size", "64"]
    whole = nas(*build, "--out", "whole")
    assert whole.code == 0
    rng, landed = random.Random("faults-synth"), 0
    for delay in (round(rng.uniform(0.3, 1.0), 2) for _ in range(2)):
        code, err = _interrupt(nas, [*build, "--out", "resumed"], signal.SIGINT, delay)
        assert code in (0, 130) and "Traceback" not in err, (delay, err[-2000:])
        if code == 130:
            landed += 1
            assert err.strip().splitlines()[-1] == "nas: interrupted"
    assert landed, "no Ctrl-C landed while the cache was being built"
    assert nas(*build, "--out", "resumed").code == 0
    first, second = (
        json.loads(nas("data", "inspect", name, "--verify", "--json").out) for name in ("whole", "resumed")
    )
    for key in ("videos", "splits", "source_fingerprint", "class_counts", "corrupt_records"):
        assert first[key] == second[key], key
