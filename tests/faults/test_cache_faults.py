"""Clip caches that are missing, cut short, damaged or from a newer toolkit: one line, the files untouched."""

from __future__ import annotations

import json
import struct

import lmdb
import optuna
import pytest

from .conftest import TINY_SEARCH, assert_one_line_failure, listing

SYNTH = ["data", "synth", "--classes", "4", "--clips-per-class", "6", "--frames", "16", "--size", "32"]


@pytest.fixture
def cache(nas):
    """A small raw cache in the test's folder."""
    made = nas(*SYNTH, "--out", "cache")
    assert made.code == 0, made.err
    return nas.folder / "cache"


def _rewrite(cache, change) -> None:
    """Apply ``change(txn)`` to the cache's LMDB environment in a write transaction."""
    env = lmdb.open(str(cache), subdir=True)
    with env.begin(write=True) as txn:
        change(txn)
    env.close()


def test_a_missing_cache(nas):
    assert_one_line_failure(
        nas(*TINY_SEARCH, "--data", "nowhere"), "--data nowhere does not exist", "nas data synth", code=2
    )
    assert listing(nas.folder) == {}


def test_an_empty_cache_folder(nas):
    (nas.folder / "cache").mkdir()
    assert_one_line_failure(nas("data", "inspect", "cache"), "no clip cache at cache (no data.mdb)", code=2)


def test_a_truncated_cache_is_refused_before_any_read(nas, cache):
    data = cache / "data.mdb"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 3])  # a copy cut short
    before = data.read_bytes()
    for command in ([*TINY_SEARCH, "--data", "cache"], ["data", "inspect", "cache"]):
        outcome = nas(*command)
        assert outcome.code != -7, "killed by SIGBUS reading past the end of the file"
        assert_one_line_failure(outcome, "is truncated", "copy it again or rebuild it", code=2)
    assert data.read_bytes() == before, "the damaged cache was changed"


def test_damaged_pages_are_one_line(nas, cache):
    data = cache / "data.mdb"
    raw = bytearray(data.read_bytes())
    page = 4096
    raw[2 * page : len(raw) - page] = b"\xff" * (len(raw) - 3 * page)  # every page but the two meta pages and the last
    data.write_bytes(bytes(raw))
    assert_one_line_failure(nas(*TINY_SEARCH, "--data", "cache"), "clip cache", "corrupt", "rebuild", code=1)


def test_a_cache_from_a_newer_toolkit(nas, cache):
    def newer(txn):
        meta = json.loads(txn.get(b"__meta__"))
        txn.put(b"__meta__", json.dumps({**meta, "format_version": 2}).encode())

    _rewrite(cache, newer)
    assert_one_line_failure(
        nas(*TINY_SEARCH, "--data", "cache"), "format version 2", "upgrade the toolkit or rebuild", code=2
    )


def _damage_payload(txn, key: bytes) -> None:
    value = bytes(txn.get(key))
    (length,) = struct.unpack_from("<I", value)
    head = 4 + length
    txn.put(key, value[:head] + bytes(reversed(value[head:])))  # same size, checksum now wrong


def test_verify_finds_a_damaged_record(nas, cache):
    _rewrite(cache, lambda txn: _damage_payload(txn, b"v/00000003"))
    assert nas("data", "inspect", "cache").code == 0  # the structure is sound: only reading every record tells
    assert_one_line_failure(
        nas("data", "inspect", "cache", "--verify"), "1 corrupt records", "v/00000003", "rebuild", code=1
    )


@pytest.mark.slow
def test_a_record_that_does_not_decode_mid_search_fails_the_trial_for_retry(nas):
    assert nas(*SYNTH, "--codec", "jpeg", "--out", "cache").code == 0
    cache = nas.folder / "cache"
    _rewrite(cache, lambda txn: [_damage_payload(txn, key) for key, _ in list(txn.cursor()) if key.startswith(b"v/")])
    search = [*TINY_SEARCH, "--data", "cache", "--storage", "ledger.db", "--study", "s"]
    assert_one_line_failure(nas(*search), "clip cache", "is corrupt", "rebuild the cache", code=1)
    trials = optuna.load_study(study_name="s", storage=f"sqlite:///{nas.folder / 'ledger.db'}").trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.FAIL] and trials[0].user_attrs["retry"] is True
    for path in cache.iterdir():
        path.unlink()
    cache.rmdir()
    assert nas(*SYNTH, "--codec", "jpeg", "--out", "cache").code == 0  # rebuilt: the same data, so the same study
    done = nas(*search)
    assert done.code == 0, done.err[-2000:]
    trials = optuna.load_study(study_name="s", storage=f"sqlite:///{nas.folder / 'ledger.db'}").trials
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE and t.user_attrs["role"] != "final"]
    points = [json.dumps(t.params, sort_keys=True) for t in complete]
    assert len(points) == len(set(points)) and trials[1].user_attrs.get("retry_of") == 0
