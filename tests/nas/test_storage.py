"""The ledger's storage on a real PostgreSQL: claims, heartbeats of other machines, a lost connection; journal files."""

from __future__ import annotations

import threading
import time

import pytest

from nas.ledger import Ledger
from nas.storage import RetryPolicy, StorageError, redacted, storage_url
from spaces import get_space

SPACE = get_space("x3d", num_classes=4, base_crop=16, base_stride=16, head_width=32)
CONFIG = {"space": "x3d", "test": True}


def _ledger(url: str, **options) -> Ledger:
    ledger = Ledger(url, "s", SPACE, **options)
    ledger.open(CONFIG)
    return ledger


def test_of_two_workers_proposing_the_same_point_the_first_claim_trains_it(postgres_url):
    first, second = _ledger(postgres_url), _ledger(postgres_url)
    point = SPACE.base
    a = first.start(point, {"fingerprint": "f"})
    b = second.start(point, {"fingerprint": "f"})
    assert second.claim(b, point, "f") is False  # sees the earlier live claim and steps back
    assert first.claim(a, point, "f") is True  # the later one does not count against the earlier
    assert [r.attrs["number"] for r in second.records("f")] == [a.number]
    assert [t.number for t in second.running()] == [a.number]
    assert "holds the same point" in second.record(b).attrs["fail_reason"]
    again = second.start(point, {"fingerprint": "f"})
    assert not second.claim(again, point, "f")  # still running elsewhere
    other_point = SPACE.expand(point, "spatial")
    other = second.start(other_point, {"fingerprint": "f"})
    assert second.claim(other, other_point, "f")
    assert second.claim(second.start(point, {"fingerprint": "another estimator"}), point, "another estimator")


def test_a_claim_beyond_the_budget_is_withdrawn(postgres_url):
    ledger = _ledger(postgres_url)
    points = [SPACE.base, SPACE.expand(SPACE.base, "spatial"), SPACE.expand(SPACE.base, "width")]
    handles = [ledger.start(p, {"fingerprint": "f"}) for p in points]
    assert [ledger.claim(h, p, "f", budget=2) for h, p in zip(handles, points)] == [True, True, False]
    assert "budget of 2" in ledger.record(handles[2]).attrs["fail_reason"]
    assert len(ledger.records("f")) == 2


def test_a_trial_whose_remote_worker_stopped_beating_is_failed_for_retry(postgres_url):
    remote = {"host": "another-machine", "pid": 1, "pid_start": None}
    ledger = _ledger(postgres_url, heartbeat=1)  # grace: 3 s
    dead = ledger.start(SPACE.base, {"fingerprint": "f"})  # one beat as it starts, then the machine "dies"
    alive = ledger.start(SPACE.expand(SPACE.base, "spatial"), {"fingerprint": "f"})
    for handle in (dead, alive):
        ledger.set_attrs(handle, {"owner": remote})  # the pid check cannot judge them: only heartbeats can
    with ledger.heartbeat(alive):
        time.sleep(4.5)
        assert ledger.fail_stale() == [dead.number]
    record = ledger.record(dead)
    assert record.state == "failed" and not record.settled and "heartbeats" in record.attrs["fail_reason"]
    assert ledger.record(alive).state == "running"
    assert _ledger(postgres_url).fail_stale() == []  # a remote trial without heartbeat settings is not judged


def test_a_lost_connection_is_retried_with_back_off_then_fails_in_one_line(postgres, postgres_url):
    ledger = _ledger(postgres_url, retry=RetryPolicy(seconds=60))
    ledger.start(SPACE.base, {"fingerprint": "f"})
    postgres.server("stop")
    threading.Timer(2.0, postgres.server, args=("start",)).start()
    started = time.monotonic()
    assert len(ledger.trials()) == 1  # waited for the server to come back
    assert time.monotonic() - started >= 1.5
    impatient = _ledger(postgres_url, retry=RetryPolicy(seconds=2))
    postgres.server("stop")
    try:
        with pytest.raises(StorageError) as error:
            impatient.trials()
    finally:
        postgres.server("start")
    message = str(error.value)
    assert "lost the connection" in message and "re-run the same command" in message and "\n" not in message
    assert "nas-test-password" not in message


def test_a_wrong_password_is_one_line_without_the_password(postgres):
    url = postgres.url("postgres", password="wrong-secret")
    with pytest.raises(StorageError) as error:
        Ledger(url, "s", SPACE, retry=RetryPolicy(seconds=0))
    assert "wrong-secret" not in str(error.value) and "password authentication failed" in str(error.value)


def test_the_journal_file_storage_keeps_a_ledger_too(tmp_path):
    url = storage_url(str(tmp_path / "search.journal"))
    assert url.startswith("journal:///") and url.endswith("search.journal")
    ledger = _ledger(url)
    handle = ledger.start(SPACE.base, {"fingerprint": "f"})
    assert ledger.claim(handle, SPACE.base, "f")
    with ledger.heartbeat(handle):  # no heartbeat on a journal: nothing happens
        pass
    ledger.complete(handle, 0.5, {"train_seconds": 1.0})
    again = _ledger(url)
    assert [(r.state, r.accuracy) for r in again.records("f")] == [("complete", 0.5)]


def test_redacted_hides_only_the_password():
    assert redacted("postgresql://nas:s3cret@db:5432/x") == "postgresql://nas:***@db:5432/x"
    assert redacted("sqlite:///nas.db") == "sqlite:///nas.db"
