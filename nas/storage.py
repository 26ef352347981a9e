"""Opening the ledger's Optuna storage: URLs, heartbeats, and riding out a lost connection.

Three kinds of storage, all Optuna's own (nothing home-made carries the
trials between workers):

- ``sqlite:///path.db`` (or a bare path): one machine, a few processes.
- ``journal:///path.journal`` (or a path ending in ``.journal``): Optuna's
  journal file, one machine; appends under a file lock, so many processes
  write without SQLite's lock waits.
- ``postgresql://user:password@host/db`` (any SQLAlchemy URL): many machines.

Relational storages get Optuna's heartbeat: every running trial's worker
records a heartbeat, and any worker fails a trial whose heartbeat stopped
for ``grace`` seconds (its machine died, or its process was SIGKILLed), so
the point is trained again.  The journal file has no heartbeat; on one
machine the ledger tells a dead process by its pid instead.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from spaces.errors import NasError, RunFailure

DEFAULT_STORAGE = "sqlite:///nas.db"
JOURNAL_SCHEME = "journal:///"
#: Seconds between a running trial's heartbeats; a trial silent for GRACE_FACTOR x that is failed.
DEFAULT_HEARTBEAT_SECONDS = 20
GRACE_FACTOR = 3
#: How long a lost database connection is retried before the command gives up.
DEFAULT_RETRY_SECONDS = 120.0

T = TypeVar("T")


class StorageError(NasError):
    """The storage URL cannot be opened or written."""


class StorageFailure(StorageError, RunFailure):
    """The storage failed while a command ran on it (lost, full, read-only): exit 1, re-run to resume."""


def storage_url(text: str | None) -> str:
    """A URL for Optuna: ``None`` gives the default SQLite file; a bare path means a SQLite (or journal) file."""
    if not text:
        return DEFAULT_STORAGE
    if "://" in text:
        return _with_installed_driver(text)
    if text.endswith(".journal"):
        return f"{JOURNAL_SCHEME}{os.path.abspath(text)}"
    return f"sqlite:///{os.path.abspath(text)}"


SQLITE_HEADER = b"SQLite format 3\x00"


def _with_installed_driver(url: str) -> str:
    """``postgresql://`` with the driver this toolkit installs
    (SQLAlchemy 2.1 defaults to psycopg 3, which it does not)."""
    scheme, sep, rest = url.partition("://")
    if scheme in ("postgresql", "postgres"):
        import importlib.util

        if importlib.util.find_spec("psycopg") is None:
            return f"postgresql+psycopg2{sep}{rest}"
    return url


def local_file(url: str) -> str | None:
    """The local file of a SQLite or journal URL (None for a server, or SQLite in memory)."""
    for prefix in ("sqlite:///", JOURNAL_SCHEME):
        if url.startswith(prefix) and url != "sqlite:///:memory:":
            return os.path.abspath(url[len(prefix) :])  # as SQLAlchemy reads it: four slashes for an absolute path
    return None


def check_storage(url: str) -> None:
    """Fail early on a storage that cannot work, without creating anything (a file needs its folder)."""
    path = local_file(url)
    if path is None:
        open_storage(url)
        return
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise StorageError(f"cannot open storage {url!r}: the folder {folder} does not exist; create it or fix the URL")
    from estimators.files import can_create_in

    if not os.access(folder, os.W_OK) or not can_create_in(Path(folder)):
        raise StorageError(
            f"cannot open storage {url!r}: the folder {folder} is not writable (read-only or no permission)"
        )
    if os.path.lexists(path) and not os.path.isfile(path):
        from estimators.files import kind_of

        raise StorageError(
            f"cannot open storage {redacted(url)!r}: {path} is {kind_of(Path(path))}, not a ledger file; "
            "give a new or existing ledger file"
        )
    if url.startswith("sqlite") and os.path.exists(path):
        _check_sqlite_file(url, path)


def check_existing_ledger(url: str) -> None:
    """For commands that only read a ledger (report, export): a local ledger file must exist; none is created."""
    path = local_file(url)
    if path is not None and not os.path.isfile(path):
        raise StorageError(
            f"no ledger at {redacted(url)}; give the --storage that 'nas search' wrote (default {DEFAULT_STORAGE})"
        )
    check_storage(url)


def _check_sqlite_file(url: str, path: str) -> None:
    """An existing file must be a SQLite database (or empty); its header says so without opening it.

    Opening would not do: a ledger left by a killed process may carry a hot
    journal that only a writing open rolls back.
    """
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as error:
        raise StorageError(f"cannot open storage {url!r}: {error.strerror or error}") from None
    if header and header != SQLITE_HEADER:
        raise StorageError(
            f"cannot open storage {url!r}: file is not a database; give --storage a new file or an existing ledger"
        )


def supports_heartbeat(url: str) -> bool:
    return not url.startswith(JOURNAL_SCHEME)


def open_storage(url: str, *, heartbeat: int | None = None):
    """An Optuna storage for ``url`` (with heartbeats every ``heartbeat`` s where it has them);
    failures are one line."""
    import optuna

    if url.startswith(JOURNAL_SCHEME):
        return _open_journal(url)
    beat = (
        {}
        if heartbeat is None
        else {"heartbeat_interval": int(heartbeat), "grace_period": int(heartbeat) * GRACE_FACTOR}
    )
    try:
        return _create_tables_once(
            lambda: _quiet_experimental(
                lambda: optuna.storages.RDBStorage(url, engine_kwargs=_engine_options(url), **beat)
            )
        )
    except ModuleNotFoundError as error:
        raise StorageError(f"storage {url!r} needs the database driver {error.name!r}; pip install it") from None
    except Exception as error:  # sqlalchemy and driver errors come in many types
        reason = first_line(error)
        if "Failed to import DB access module" in reason:
            scheme = url.split(":", 1)[0]
            raise StorageError(
                f"storage {url!r} needs a database driver for {scheme!r} "
                "(PostgreSQL: pip install psycopg2-binary; MySQL: pip install pymysql)"
            ) from None
        if is_fatal(error):
            raise as_storage_error(url, error) from None
        raise StorageError(
            f"cannot open storage {redacted(url)!r}: {reason}; check the URL, the server and its permissions"
        ) from None


def _create_tables_once(make: Callable[[], T], tries: int = 5) -> T:
    """Several workers opening an empty database at once race to create Optuna's tables; the losers try again."""
    for attempt in range(tries):
        try:
            return make()
        except Exception as error:
            text = str(getattr(error, "orig", None) or error)
            racing = any(
                sign in text
                for sign in ("duplicate key", "already exists", "UNIQUE constraint failed", "database is locked")
            )
            if not racing or attempt == tries - 1:
                raise
            time.sleep(random.uniform(0.2, 1.0))
    raise AssertionError("unreachable")


def _open_journal(url: str):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path = local_file(url)
    try:
        return JournalStorage(JournalFileBackend(path))
    except OSError as error:
        raise StorageError(
            f"cannot open storage {url!r}: {error.strerror or error}; check the path and its permissions"
        ) from None


def _quiet_experimental(make: Callable[[], T]) -> T:
    """Optuna marks heartbeats experimental; the warning would appear on every command."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*heartbeat.*")
        warnings.filterwarnings(
            "ignore", category=getattr(__import__("optuna").exceptions, "ExperimentalWarning", Warning)
        )
        return make()


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 60}}  # several processes on one file wait for each other's writes
    options: dict[str, Any] = {"pool_pre_ping": True}  # a connection the server dropped is replaced, not used
    if url.startswith("postgresql"):  # a dead link raises within seconds instead of hanging a worker
        options["connect_args"] = {
            "connect_timeout": 10,
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        }
    return options


def fail_stale_by_heartbeat(storage: Any, study_name: str) -> list[int]:
    """Numbers of the RUNNING trials Optuna's heartbeat check failed just now (none without heartbeats)."""
    import optuna

    from .private_apis import heartbeat_enabled

    if not heartbeat_enabled(storage):
        return []
    study = optuna.load_study(study_name=study_name, storage=storage)
    before = {t.number for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))}
    _quiet_experimental(lambda: optuna.storages.fail_stale_trials(study))  # a finished trial takes no attributes:
    # the ledger reads a FAILED trial without a reason as one the heartbeat check failed (see Ledger.record_of)
    after = {t.number for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))}
    failed = {t.number for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))}
    return sorted((before - after) & failed)


class TrialHeartbeat:
    """Records a running trial's heartbeat on a thread until stopped (nothing on a storage without them)."""

    def __init__(self, storage: Any, trial_id: int) -> None:
        from .private_apis import heartbeat_enabled

        self.storage, self.trial_id = storage, trial_id
        self.interval = storage.get_heartbeat_interval() if heartbeat_enabled(storage) else None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "TrialHeartbeat":
        if self.interval is not None:
            self.beat()
            self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{self.trial_id}", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()

    def beat(self) -> None:
        """One heartbeat now (where the storage has them); a failure is left to the next one."""
        if self.interval is None:
            return
        try:
            self.storage.record_heartbeat(self.trial_id)
        except Exception:  # a lost connection: the next beat tries again; the grace period covers the gap
            pass


# -- a lost connection ----------------------------------------------------------------------------
_retrying = threading.local()


def is_transient(error: BaseException) -> bool:
    """A lost or refused connection, or a busy database (worth retrying); not a bad query or a missing study.

    Optuna wraps every SQLAlchemy error in ``StorageInternalError``: the cause decides.
    """
    import optuna
    from sqlalchemy import exc as sql_errors

    if isinstance(error, optuna.exceptions.StorageInternalError) and error.__cause__ is not None:
        error = error.__cause__
    if isinstance(error, sql_errors.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, (sql_errors.OperationalError, sql_errors.InterfaceError, ConnectionError, TimeoutError))


@dataclass(frozen=True)
class RetryPolicy:
    """Back-off on a lost connection: 0.5 s, 1 s, 2 s, ... capped at ``max_wait``, for ``seconds`` in all."""

    seconds: float = DEFAULT_RETRY_SECONDS
    max_wait: float = 15.0

    def call(self, url: str, action: Callable[[], T]) -> T:
        """Run ``action``; on a transient storage error retry with back-off, then raise one StorageError line."""
        if getattr(_retrying, "depth", 0):
            return action()  # inside a retried call: the outer one retries the whole
        _retrying.depth = 1
        try:
            return self._call(url, action)
        finally:
            _retrying.depth = 0

    def _call(self, url: str, action: Callable[[], T]) -> T:
        deadline, wait, tries = time.monotonic() + self.seconds, 0.5, 0
        while True:
            tries += 1
            try:
                return action()
            except Exception as error:
                if not is_transient(error) or is_fatal(error):
                    raise as_storage_error(url, error) from None
                if time.monotonic() + wait > deadline:
                    raise StorageFailure(
                        f"lost the connection to storage {redacted(url)!r} ({first_line(error)}); "
                        f"retried {tries} times over {self.seconds:g} s; "
                        "check the database server, then re-run the same command to resume"
                    ) from None
                time.sleep(wait * random.uniform(0.8, 1.2))
                wait = min(self.max_wait, wait * 2)


#: What databases say when the disk under them is full or cannot be written: retrying does not help.
_FATAL_SIGNS = (
    "disk is full",
    "No space left",
    "could not extend file",
    "disk I/O error",
    "readonly database",
    "read-only",
    "Disk quota exceeded",
)


def is_fatal(error: BaseException) -> bool:
    """A full or read-only disk under the storage: the same call fails again until someone frees space."""
    text = " ".join(str(e) for e in (error, error.__cause__, getattr(error.__cause__, "orig", None)) if e is not None)
    return any(sign in text for sign in _FATAL_SIGNS)


def as_storage_error(url: str, error: Exception) -> Exception:
    """A database's own failure as one StorageError line; any other error (a bug, a NasError) unchanged."""
    import optuna
    from sqlalchemy import exc as sql_errors

    if not isinstance(error, (sql_errors.SQLAlchemyError, optuna.exceptions.StorageInternalError, OSError)):
        return error
    if is_fatal(error):
        return StorageFailure(
            f"cannot write to storage {redacted(url)!r}: {first_line(error)} — the disk under it is full "
            "or read-only; free space (or fix its permissions), then re-run the same command to resume"
        )
    return StorageFailure(
        f"storage {redacted(url)!r} failed: {first_line(error)}; check the database, then re-run the "
        "same command to resume"
    )


def first_line(error: BaseException) -> str:
    """The first line of what the database said (under Optuna's and SQLAlchemy's wrappers)."""
    cause = error.__cause__ if error.__cause__ is not None else error
    text = str(getattr(cause, "orig", None) or cause).strip()
    return text.splitlines()[0] if text else type(error).__name__


def redacted(url: str) -> str:
    """The storage URL without its password, for messages and exported files."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
