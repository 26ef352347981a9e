"""The trial ledger: an ordinary Optuna study in any Optuna storage.

Every evaluated point is a trial: its axis values are the trial's params
(full-range distributions, so a contraction to 13 frames is as valid as a
ladder level), its accuracy is the trial's value, and MACs, params, fidelity,
timings, the estimator fingerprint and the strategy's step are user
attributes.  ``optuna-dashboard sqlite:///nas.db`` opens it as it is.

A trial is created RUNNING before training starts and finished afterwards.
If the process dies in between, the trial stays RUNNING with the process'
identity in its attributes; :meth:`Ledger.fail_stale` marks it FAILED with
``retry = True`` so the strategy proposes its point again.  A finished trial
is never touched again, so nothing measured is lost or measured twice.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spaces import Point, SearchSpace
from spaces.errors import NasError

from .strategies.base import COMPLETE, FAILED, RUNNING, TrialRecord

DEFAULT_STORAGE = "sqlite:///nas.db"
CONFIG_ATTR = "nas_config"
_STATES = {"COMPLETE": COMPLETE, "FAIL": FAILED, "RUNNING": RUNNING}


class StorageError(NasError):
    """The storage URL cannot be opened or written."""


def storage_url(text: str | None) -> str:
    """A URL for Optuna: ``None`` gives the default SQLite file; a bare path means a SQLite file."""
    if not text:
        return DEFAULT_STORAGE
    if "://" in text:
        return text
    return f"sqlite:///{os.path.abspath(text)}"


def check_storage(url: str) -> None:
    """Fail early on a storage that cannot work, without creating anything (a SQLite file needs its folder)."""
    if url.startswith("sqlite:///"):
        folder = os.path.dirname(os.path.abspath(url[len("sqlite:///"):])) if url != "sqlite:///:memory:" else "."
        if not os.path.isdir(folder):
            raise StorageError(f"cannot open storage {url!r}: the folder {folder} does not exist; create it or fix the URL")
        if not os.access(folder, os.W_OK):
            raise StorageError(f"cannot open storage {url!r}: the folder {folder} is not writable")
        return
    open_storage(url)


def open_storage(url: str):
    """An Optuna storage for ``url``; any failure is one :class:`StorageError` line."""
    import optuna

    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=_engine_options(url))
    except ModuleNotFoundError as error:
        raise StorageError(f"storage {url!r} needs the database driver {error.name!r}; pip install it") from None
    except Exception as error:  # sqlalchemy and driver errors come in many types
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        if "Failed to import DB access module" in reason:
            scheme = url.split(":", 1)[0]
            raise StorageError(f"storage {url!r} needs a database driver for {scheme!r} "
                               "(PostgreSQL: pip install psycopg2-binary; MySQL: pip install pymysql)") from None
        raise StorageError(f"cannot open storage {url!r}: {reason}; check the URL, the server and its permissions") from None


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 60}}  # several processes on one file wait for each other's writes
    return {"pool_pre_ping": True}


def _process_identity() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "pid_start": _process_start(os.getpid())}


def _process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (tells a dead process from a new one with its number)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _process_alive(owner: Mapping[str, Any]) -> bool | None:
    """True/False for a process of this host; None when it ran elsewhere (cannot tell)."""
    if owner.get("host") != socket.gethostname():
        return None
    pid = int(owner.get("pid", -1))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    start = _process_start(pid)
    return start is None or owner.get("pid_start") in (None, start)


@dataclass(frozen=True)
class TrialHandle:
    number: int
    trial_id: int


class Ledger:
    """One search's trials in an Optuna study; the search's settings are the study's ``nas_config``."""

    def __init__(self, url: str, study_name: str, space: SearchSpace) -> None:
        self.url, self.study_name, self.space = url, study_name, space
        self.storage = open_storage(url)
        self.study_id: int | None = self._find_study()

    def _find_study(self) -> int | None:
        import optuna

        try:
            return self.storage.get_study_id_from_name(self.study_name)
        except KeyError:
            return None
        except optuna.exceptions.OptunaError as error:
            raise StorageError(f"cannot read storage {self.url!r}: {error}") from None

    def config(self) -> dict[str, Any] | None:
        if self.study_id is None:
            return None
        raw = self.storage.get_study_user_attrs(self.study_id).get(CONFIG_ATTR)
        return json.loads(raw) if isinstance(raw, str) else raw

    def open(self, config: Mapping[str, Any]) -> None:
        """Create the study with ``config``, or check that an existing one was started with the same."""
        import optuna

        if self.study_id is None:
            try:
                self.study_id = self.storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE], self.study_name)
            except optuna.exceptions.DuplicatedStudyError:  # another process created it first
                self.study_id = self.storage.get_study_id_from_name(self.study_name)
            else:
                self.storage.set_study_user_attr(self.study_id, CONFIG_ATTR, json.dumps(dict(config), sort_keys=True))
                return
        stored, wanted = self.config(), json.loads(json.dumps(dict(config)))
        if stored is None:
            raise StorageError(f"study {self.study_name!r} in {self.url} was not made by 'nas search'; pick another --study")
        if stored != wanted:
            changed = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
            raise NasError(f"study {self.study_name!r} in {self.url} was started with different settings "
                           f"({', '.join(changed)}); re-run with the same settings to resume it, or pick a new --study")

    def set_attr(self, key: str, value: Any) -> None:
        """Store a JSON-ready study attribute (the expansion path, the chosen model) beside the trials."""
        if self.study_id is None:
            raise StorageError(f"study {self.study_name!r} is not open")
        self.storage.set_study_user_attr(self.study_id, key, _clean({"v": value})["v"])

    # -- reading ------------------------------------------------------------------------
    def trials(self) -> list[Any]:
        if self.study_id is None:
            return []
        return self.storage.get_all_trials(self.study_id, deepcopy=False)

    def records(self, fingerprint: str | None = None, *, roles_excluded: tuple[str, ...] = ("final",)) -> list[TrialRecord]:
        """The history a strategy sees: trials under ``fingerprint`` (all if None), in creation order."""
        out = []
        for trial in self.trials():
            attrs = trial.user_attrs
            if fingerprint is not None and attrs.get("fingerprint") != fingerprint:
                continue
            if attrs.get("role") in roles_excluded or trial.state.name not in _STATES:
                continue
            out.append(self.record_of(trial))
        return out

    def record_of(self, trial: Any) -> TrialRecord:
        attrs = trial.user_attrs
        accuracy = trial.values[0] if trial.values else None
        return TrialRecord(point=self.space.point(trial.params), state=_STATES[trial.state.name], accuracy=accuracy,
                           macs=int(attrs.get("macs", 0)), attrs={**attrs, "number": trial.number})

    # -- writing ------------------------------------------------------------------------
    def start(self, point: Point, attrs: Mapping[str, Any]) -> TrialHandle:
        import optuna

        if self.study_id is None:
            raise StorageError(f"study {self.study_name!r} is not open")
        distributions = self.space.to_optuna(on_ladder=False)
        template = optuna.trial.create_trial(
            state=optuna.trial.TrialState.RUNNING, params=dict(point.as_dict()), distributions=distributions,
            user_attrs={**_clean(attrs), "owner": _process_identity(), "started": time.time()},
        )
        trial_id = self.storage.create_new_trial(self.study_id, template_trial=template)
        return TrialHandle(self.storage.get_trial_number_from_id(trial_id), trial_id)

    def set_attrs(self, handle: TrialHandle, attrs: Mapping[str, Any]) -> None:
        for key, value in _clean(attrs).items():
            self.storage.set_trial_user_attr(handle.trial_id, key, value)

    def complete(self, handle: TrialHandle, accuracy: float, attrs: Mapping[str, Any]) -> None:
        import optuna

        self.set_attrs(handle, attrs)
        if not math.isfinite(accuracy):
            self.fail(handle, f"accuracy is {accuracy}", retry=False)
            return
        self.storage.set_trial_state_values(handle.trial_id, optuna.trial.TrialState.COMPLETE, [float(accuracy)])

    def fail(self, handle: TrialHandle, reason: str, *, retry: bool) -> None:
        """Finish a trial as FAILED; ``retry`` says whether the point should be tried again."""
        import optuna

        self.storage.set_trial_user_attr(handle.trial_id, "fail_reason", reason)
        self.storage.set_trial_user_attr(handle.trial_id, "retry", retry)
        self.storage.set_trial_state_values(handle.trial_id, optuna.trial.TrialState.FAIL)

    def fail_stale(self) -> list[int]:
        """Fail RUNNING trials whose process (on this host) is gone; returns their numbers."""
        stale = []
        for trial in self.trials():
            if trial.state.name != "RUNNING":
                continue
            owner = trial.user_attrs.get("owner", {})
            if _process_alive(owner) is False:
                trial_id = self.storage.get_trial_id_from_study_id_trial_number(self.study_id, trial.number)
                self.fail(TrialHandle(trial.number, trial_id),
                          f"its process (pid {owner.get('pid')} on {owner.get('host')}) died mid-trial", retry=True)
                stale.append(trial.number)
        return stale

    def running(self) -> list[Any]:
        """RUNNING trials (after :meth:`fail_stale`: those of live processes)."""
        return [t for t in self.trials() if t.state.name == "RUNNING"]


def _clean(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes as Optuna stores them (JSON): tuples become lists, numpy scalars plain numbers."""
    return json.loads(json.dumps(dict(attrs), default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def list_studies(url: str) -> list[str]:
    """Names of the studies in a storage, in creation order."""
    storage = open_storage(url)
    return [study.study_name for study in storage.get_all_studies()]


def open_study(url: str, study_name: str) -> Ledger:
    """An existing search's ledger, its space rebuilt from the settings the search stored."""
    from spaces import get_space

    storage = open_storage(url)
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        names = [s.study_name for s in storage.get_all_studies()]
        known = f"its studies: {', '.join(names)}" if names else "it holds no study"
        raise StorageError(f"no study {study_name!r} in {url} ({known}); check --study and --storage") from None
    raw = storage.get_study_user_attrs(study_id).get(CONFIG_ATTR)
    if raw is None:
        raise StorageError(f"study {study_name!r} in {url} was not made by 'nas search' (it has no {CONFIG_ATTR!r})")
    config = json.loads(raw) if isinstance(raw, str) else raw
    space = get_space(config["space"], **(config.get("space_settings") or {}))
    if str(space.version) != str(config.get("space_version", space.version)):
        raise NasError(f"study {study_name!r} was searched on {config['space']} space version {config.get('space_version')}, "
                       f"this toolkit has version {space.version}; use the toolkit version that ran the search")
    return Ledger(url, study_name, space)
