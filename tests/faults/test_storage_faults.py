"""Ledgers that cannot be used: unreachable or refusing servers, files that are not databases, folders missing."""

from __future__ import annotations

import pytest

from nas.storage import storage_url
from tests.pg_cluster import free_port

from .conftest import TINY_SEARCH, assert_one_line_failure, listing


def test_an_unreachable_database_server(nas):
    url = f"postgresql://nas:secret@127.0.0.1:{free_port()}/nas"
    line = assert_one_line_failure(
        nas(*TINY_SEARCH, "--storage", url), "cannot open storage", "Connection refused", code=2
    )
    assert "secret" not in line, "the password was printed"
    assert listing(nas.folder) == {}, "nothing may be built before the ledger is known to work"


@pytest.mark.slow
def test_a_wrong_database_password(nas, postgres_url):
    url = postgres_url.replace("nas-test-password", "not-the-password")
    line = assert_one_line_failure(
        nas(*TINY_SEARCH, "--storage", url), "cannot open storage", "password authentication failed", code=2
    )
    assert "not-the-password" not in line
    assert listing(nas.folder) == {}


def test_a_plain_postgresql_url_uses_the_installed_driver():
    assert storage_url("postgresql://u:p@db:5432/nas").startswith("postgresql+psycopg2://")
    assert storage_url("postgresql+psycopg2://u:p@db/nas") == "postgresql+psycopg2://u:p@db/nas"


def test_an_unknown_storage_scheme(nas):
    assert_one_line_failure(
        nas(*TINY_SEARCH, "--storage", "mongodb://db/nas"), "cannot open storage", "mongodb", code=2
    )


def test_a_ledger_file_that_is_not_a_database_is_left_alone(nas):
    (nas.folder / "nas.db").write_bytes(b"these are my notes, not a database\n" * 100)
    before = listing(nas.folder)
    assert_one_line_failure(nas(*TINY_SEARCH, "--storage", "nas.db"), "file is not a database", code=2)
    assert listing(nas.folder) == before, "the file was changed"


def test_a_ledger_in_a_missing_folder(nas):
    assert_one_line_failure(
        nas(*TINY_SEARCH, "--storage", "no/such/folder/nas.db"), "does not exist; create it", code=2
    )
    assert listing(nas.folder) == {}


def test_a_report_on_a_study_that_is_not_there(nas):
    first = nas(*TINY_SEARCH, "--budget", "1", "--final-epochs", "0")
    assert first.code == 0, first.err[-2000:]
    assert_one_line_failure(nas("report", "--study", "no-such-study"), "no-such-study", code=2)
