"""The trial ledger: an ordinary Optuna study in any Optuna storage.

Every evaluated point is a trial: its axis values are the trial's params
(full-range distributions, so a contraction to 13 frames is as valid as a
ladder level), its accuracy is the trial's value, and MACs, params, fidelity,
timings, the estimator fingerprint and the strategy's step are user
attributes.  ``optuna-dashboard sqlite:///nas.db`` opens it as it is.

A trial is created RUNNING before training starts and finished afterwards.
If the process dies in between, the trial stays RUNNING with the process'
identity in its attributes; :meth:`Ledger.fail_stale` marks it FAILED with
``retry = True`` (at once for a dead pid on this machine, after the heartbeat
grace period for any machine) so the strategy proposes its point again, and
the new trial's ``retry_of`` names the attempt it replaces.  A finished trial
is never touched again, so nothing measured is lost or measured twice; a
point two workers start at once is kept by one (:meth:`Ledger.claim`).
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

from .private_apis import trial_id
from .storage import (
    RetryPolicy,
    StorageError,
    TrialHeartbeat,
    fail_stale_by_heartbeat,
    open_storage,
)
from .strategies.base import COMPLETE, FAILED, PRUNED, RUNNING, TrialRecord, repeat_of

CONFIG_ATTR = "nas_config"
STALE_REASON = "its worker stopped sending heartbeats (the machine or process died mid-trial)"
_STATES = {"COMPLETE": COMPLETE, "FAIL": FAILED, "RUNNING": RUNNING, "PRUNED": PRUNED}


def _process_identity() -> dict[str, Any]:
    """Who runs a trial: host, pid and its start time, and the kernel boot and pid namespace it counts in."""
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "pid_start": _process_start(os.getpid()),
        "boot": _read_first("/proc/sys/kernel/random/boot_id"),
        "pid_ns": _pid_namespace(),
    }


def _read_first(path: str) -> str | None:
    try:
        with open(path) as handle:
            return handle.read().strip() or None
    except OSError:
        return None


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _process_stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state first)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (tells a dead process from a new one with its number)."""
    fields = _process_stat(pid)
    return fields[19] if fields and len(fields) > 19 else None


def _process_alive(owner: Mapping[str, Any]) -> bool | None:
    """True/False for a process of this host; None when it ran elsewhere (cannot tell).

    Containers may share a host name but not a pid space: a trial counts as
    local only when host, kernel boot and pid namespace all match (trials of
    older versions, which recorded only the host, are judged by it).
    """
    here = _process_identity()
    if owner.get("host") != here["host"] or any(owner.get(k) not in (None, here[k]) for k in ("boot", "pid_ns")):
        return None
    pid = int(owner.get("pid", -1))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    fields = _process_stat(pid)
    if fields and fields[0] in ("Z", "X"):
        return False  # killed, not yet reaped by its parent
    start = fields[19] if fields and len(fields) > 19 else None
    return start is None or owner.get("pid_start") in (None, start)


@dataclass(frozen=True)
class TrialHandle:
    number: int
    trial_id: int


class Ledger:
    """One search's trials in an Optuna study; the search's settings are the study's ``nas_config``.

    Every storage call rides out a lost connection (``retry``: back-off, then
    one :class:`StorageError` line).  ``heartbeat`` (seconds) turns on
    Optuna's heartbeat where the storage has one, so trials of dead workers
    on other machines are failed and retried.
    """

    def __init__(
        self,
        url: str,
        study_name: str,
        space: SearchSpace,
        *,
        heartbeat: int | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.url, self.study_name, self.space = url, study_name, space
        self.retry = retry or RetryPolicy()
        self.storage = self._do(lambda: open_storage(url, heartbeat=heartbeat))
        self.study_id: int | None = self._find_study()

    def _do(self, action):
        return self.retry.call(self.url, action)

    def _find_study(self) -> int | None:
        import optuna

        try:
            return self._do(lambda: self.storage.get_study_id_from_name(self.study_name))
        except KeyError:
            return None
        except optuna.exceptions.OptunaError as error:
            raise StorageError(f"cannot read storage {self.url!r}: {error}") from None

    def refresh(self) -> bool:
        """Look the study up again (a worker waiting for a search to start); True once it exists."""
        if self.study_id is None:
            self.study_id = self._find_study()
        return self.study_id is not None

    def config(self) -> dict[str, Any] | None:
        return self.attr(CONFIG_ATTR)

    def attr(self, key: str) -> Any:
        """A study attribute (JSON strings decoded); None if absent."""
        if self.study_id is None:
            return None
        raw = self._do(lambda: self.storage.get_study_user_attrs(self.study_id)).get(key)
        return json.loads(raw) if isinstance(raw, str) and key == CONFIG_ATTR else raw

    def open(self, config: Mapping[str, Any], attrs: Mapping[str, Any] | None = None) -> None:
        """Create the study with ``config``, or check that an existing one was started with the same.

        ``attrs`` (the data, the budget) are written before the config of a new
        study: a worker waiting for the config finds them there too.
        """
        self._do(lambda: self._open(config, attrs))
        for key, value in (attrs or {}).items():
            self.set_attr(key, value)  # a resumed search: the latest budget counts

    def _open(self, config: Mapping[str, Any], attrs: Mapping[str, Any] | None = None) -> None:
        import optuna

        if self.study_id is None:
            try:
                self.study_id = self.storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE], self.study_name)
            except optuna.exceptions.DuplicatedStudyError:  # another process created it first
                self.study_id = self.storage.get_study_id_from_name(self.study_name)
            else:
                self._write_settings(config, attrs)
                return
        stored, wanted = self._stored_config(), json.loads(json.dumps(dict(config)))
        if stored is None and not self.storage.get_all_trials(self.study_id, deepcopy=False):
            self._write_settings(config, attrs)  # its creator was stopped between the two writes: adopt it
            return
        if stored is None:
            raise StorageError(
                f"study {self.study_name!r} in {self.url} was not made by 'nas search'; pick another --study"
            )
        if stored != wanted:
            changed = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
            raise NasError(
                f"study {self.study_name!r} in {self.url} was started with different settings "
                f"({', '.join(changed)}); re-run with the same settings to resume it, or pick a new --study"
            )

    def _write_settings(self, config: Mapping[str, Any], attrs: Mapping[str, Any] | None) -> None:
        """The attributes first, the config last: a worker that sees the config sees the rest."""
        for key, value in (attrs or {}).items():
            self.storage.set_study_user_attr(self.study_id, key, _clean({"v": value})["v"])
        self.storage.set_study_user_attr(self.study_id, CONFIG_ATTR, json.dumps(dict(config), sort_keys=True))

    def _stored_config(self) -> dict[str, Any] | None:
        """The config, waiting briefly for the process that created the study to write it."""
        raw = _wait_for_config(self.storage, self.study_id)
        return json.loads(raw) if isinstance(raw, str) else raw

    def set_attr(self, key: str, value: Any) -> None:
        """Store a JSON-ready study attribute (the expansion path, the chosen model) beside the trials."""
        if self.study_id is None:
            raise StorageError(f"study {self.study_name!r} is not open")
        self._do(lambda: self.storage.set_study_user_attr(self.study_id, key, _clean({"v": value})["v"]))

    # -- reading ------------------------------------------------------------------------
    def trials(self) -> list[Any]:
        if self.study_id is None:
            return []
        return self._do(lambda: self.storage.get_all_trials(self.study_id, deepcopy=False))

    def records(
        self, fingerprint: str | None = None, *, roles_excluded: tuple[str, ...] = ("final",)
    ) -> list[TrialRecord]:
        """The history a strategy sees: trials under ``fingerprint`` (all if None), in creation order."""
        out = []
        for trial in self.trials():
            attrs = trial.user_attrs
            if fingerprint is not None and attrs.get("fingerprint") != fingerprint:
                continue
            if attrs.get("role") in roles_excluded or trial.state.name not in _STATES or attrs.get("withdrawn"):
                continue
            out.append(self.record_of(trial))
        return out

    def record_of(self, trial: Any) -> TrialRecord:
        attrs = dict(trial.user_attrs)
        if trial.state.name == "FAIL":  # failed by Optuna's heartbeat check before or without our reason
            attrs.setdefault("retry", True)
            attrs.setdefault("fail_reason", STALE_REASON)
        accuracy = trial.values[0] if trial.values else None
        return TrialRecord(
            point=self.space.point(trial.params),
            state=_STATES[trial.state.name],
            accuracy=accuracy,
            cost=int(attrs.get("cost", attrs.get("macs", 0))),
            attrs={**attrs, "number": trial.number},
        )

    def record(self, handle: TrialHandle) -> TrialRecord:
        return self.record_of(self._do(lambda: self.storage.get_trial(handle.trial_id)))

    # -- writing ------------------------------------------------------------------------
    def start(self, point: Point, attrs: Mapping[str, Any]) -> TrialHandle:
        import optuna

        if self.study_id is None:
            raise StorageError(f"study {self.study_name!r} is not open")
        distributions = self.space.to_optuna(on_ladder=False)
        template = optuna.trial.create_trial(
            state=optuna.trial.TrialState.RUNNING,
            params=dict(point.as_dict()),
            distributions=distributions,
            user_attrs={**_clean(attrs), "owner": _process_identity(), "started": time.time()},
        )
        trial_id = self._do(lambda: self.storage.create_new_trial(self.study_id, template_trial=template))
        TrialHeartbeat(self.storage, trial_id).beat()  # a trial without any heartbeat is never judged stale by Optuna
        return TrialHandle(self._do(lambda: self.storage.get_trial_number_from_id(trial_id)), trial_id)

    def claim(
        self, handle: TrialHandle, point: Point, fingerprint: str, *, budget: int | None = None, repeat: int = 0
    ) -> bool:
        """Keep the trial just started for run ``repeat`` of ``point`` only if it is that run's first live claim
        (and within ``budget``).

        Two workers may propose the same point at the same moment.  Each
        writes its trial first and looks second.  Trial numbers follow the
        order the storage committed them (Optuna locks the study row while it
        numbers a trial; the journal is one ordered log), so the later of two
        claims always sees the earlier one and withdraws: the point is trained
        once, by the lowest-numbered live claim.  The same order decides which
        starts count against a ``budget`` of trained models.  A withdrawn trial
        is hidden from every history.
        """
        taken, earlier_live = 0, None
        for trial in self.trials():
            attrs = trial.user_attrs
            if trial_id(trial) == handle.trial_id or attrs.get("withdrawn") or attrs.get("fingerprint") != fingerprint:
                continue
            if trial.state.name not in _STATES:
                continue
            record = self.record_of(trial)
            live = record.state == RUNNING and trial.number < handle.number
            counted = (record.settled and attrs.get("trained", True)) or live
            taken += counted
            if record.point == point and repeat_of(record) == repeat and (record.settled or live):
                earlier_live = trial.number
        if earlier_live is None and (budget is None or taken < budget):
            return True
        reason = (
            f"trial {earlier_live} holds the same point"
            if earlier_live is not None
            else f"the budget of {budget} trained models is taken"
        )
        self.fail(handle, reason, retry=False, attrs={"withdrawn": True})
        return False

    def heartbeat(self, handle: TrialHandle) -> TrialHeartbeat:
        return TrialHeartbeat(self.storage, handle.trial_id)

    def set_attrs(self, handle: TrialHandle, attrs: Mapping[str, Any]) -> None:
        def write() -> None:
            for key, value in _clean(attrs).items():
                self.storage.set_trial_user_attr(handle.trial_id, key, value)

        self._do(write)

    def complete(self, handle: TrialHandle, accuracy: float, attrs: Mapping[str, Any]) -> bool:
        """Record a finished training; False if another worker declared the trial dead meanwhile."""
        import optuna

        if not math.isfinite(accuracy):
            return self.fail(handle, f"accuracy is {accuracy}", retry=False, attrs=attrs)

        pause = _completion_pause()

        def write() -> None:
            for key, value in _clean(attrs).items():
                self.storage.set_trial_user_attr(handle.trial_id, key, value)
                if pause:
                    time.sleep(pause)  # tests only: widen the window in which a kill lands inside this write
            self.storage.set_trial_state_values(handle.trial_id, optuna.trial.TrialState.COMPLETE, [float(accuracy)])

        return self._finishing(write)

    def report(self, handle: TrialHandle, epoch: int, accuracy: float) -> None:
        """Record a running trial's validation top-1 after ``epoch`` epochs (what Optuna's pruners read)."""
        self._do(lambda: self.storage.set_trial_intermediate_value(handle.trial_id, epoch, float(accuracy)))

    def should_prune(self, handle: TrialHandle, pruner: Any) -> bool:
        """Whether ``pruner`` (an Optuna pruner) stops the trial at its last reported epoch, given the study's other
        trials; read from the ledger, so every worker's trials count."""
        import optuna

        def decide() -> bool:
            study = optuna.load_study(study_name=self.study_name, storage=self.storage, pruner=pruner)
            return bool(pruner.prune(study, self.storage.get_trial(handle.trial_id)))

        return self._do(decide)

    def prune(self, handle: TrialHandle, accuracy: float, attrs: Mapping[str, Any]) -> bool:
        """Finish a trial as PRUNED (a pruner stopped its training); its reported top-1s stay as they are.

        The last one is kept as the attribute ``pruned_top1``: Optuna stores no value on a pruned trial."""
        import optuna

        def write() -> None:
            for key, value in _clean({**attrs, "pruned_top1": float(accuracy)}).items():
                self.storage.set_trial_user_attr(handle.trial_id, key, value)
            self.storage.set_trial_state_values(handle.trial_id, optuna.trial.TrialState.PRUNED)

        return self._finishing(write)

    def fail(self, handle: TrialHandle, reason: str, *, retry: bool, attrs: Mapping[str, Any] | None = None) -> bool:
        """Finish a trial as FAILED; ``retry`` says whether the point should be tried again; ``attrs`` are written
        with it, in the same guarded write (False, nothing raised, if another worker failed the trial meanwhile)."""
        import optuna

        def write() -> None:  # "retry" first: a trial failed meanwhile by a heartbeat check keeps the right one
            self.storage.set_trial_user_attr(handle.trial_id, "retry", retry)
            for key, value in _clean(attrs or {}).items():
                self.storage.set_trial_user_attr(handle.trial_id, key, value)
            self.storage.set_trial_user_attr(handle.trial_id, "fail_reason", reason)
            self.storage.set_trial_state_values(handle.trial_id, optuna.trial.TrialState.FAIL)

        return self._finishing(write)

    def _finishing(self, write) -> bool:
        import optuna

        try:
            self._do(write)
        except optuna.exceptions.UpdateFinishedTrialError:
            return False  # failed meanwhile by a heartbeat check (this worker was silent too long)
        return True

    def fail_stale(self) -> list[int]:
        """Fail RUNNING trials whose worker is gone; returns their numbers.

        On this machine a dead process is known at once by its pid; on any
        machine, Optuna's heartbeat check fails a trial silent for its grace
        period (relational storages only).
        """
        stale = []
        for trial in self.trials():
            if trial.state.name != "RUNNING":
                continue
            owner = trial.user_attrs.get("owner", {})
            if _process_alive(owner) is False:
                handle = TrialHandle(trial.number, trial_id(trial))
                if self.fail(
                    handle, f"its process (pid {owner.get('pid')} on {owner.get('host')}) died mid-trial", retry=True
                ):
                    stale.append(trial.number)
        if self.study_id is not None:
            stale += self._do(lambda: fail_stale_by_heartbeat(self.storage, self.study_name))
        return sorted(stale)

    def running(self) -> list[Any]:
        """RUNNING trials (after :meth:`fail_stale`: those of live workers)."""
        return [t for t in self.trials() if t.state.name == "RUNNING" and not t.user_attrs.get("withdrawn")]


#: Seconds to pause after each attribute of a trial's completion write: for tests that kill a search inside that write.
COMPLETION_PAUSE_VARIABLE = "NAS_TEST_COMPLETION_PAUSE"


def _completion_pause() -> float:
    try:
        return max(0.0, float(os.environ.get(COMPLETION_PAUSE_VARIABLE, "0") or 0))
    except ValueError:
        return 0.0


def _clean(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes as Optuna stores them (JSON): tuples become lists, numpy scalars plain numbers."""
    return json.loads(json.dumps(dict(attrs), default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def list_studies(url: str) -> list[str]:
    """Names of the studies in a storage, in creation order."""
    storage = open_storage(url)
    return [study.study_name for study in storage.get_all_studies()]


def open_study(url: str, study_name: str, *, wait: float = 0.0, **options: Any) -> Ledger:
    """An existing search's ledger, its space rebuilt from the settings the search stored.

    ``wait`` seconds: a worker started before its search waits for the study
    to appear (polling with back-off).  ``options`` go to :class:`Ledger`.
    """
    from spaces import get_space

    retry = options.get("retry") or RetryPolicy()
    _wait_for_file(url, study_name, wait)  # a local ledger is never created by a reader: the search makes it
    storage = open_storage(url)
    study_id = retry.call(url, lambda: _wait_for_study(storage, study_name, wait))
    if study_id is None:
        names = [s.study_name for s in retry.call(url, storage.get_all_studies)]
        known = f"its studies: {', '.join(names)}" if names else "it holds no study"
        waited = f" after waiting {wait:g} s" if wait else ""
        raise StorageError(f"no study {study_name!r} in {url}{waited} ({known}); check --study and --storage") from None
    raw = retry.call(url, lambda: _wait_for_config(storage, study_id, max(wait, 5.0)))
    if raw is None:
        raise StorageError(f"study {study_name!r} in {url} was not made by 'nas search' (it has no {CONFIG_ATTR!r})")
    if options.get("heartbeat", 0) is None:  # a worker beats at the search's pace: one grace period for all
        options["heartbeat"] = storage.get_study_user_attrs(study_id).get("heartbeat")
    config = json.loads(raw) if isinstance(raw, str) else raw
    space = get_space(config["space"], **(config.get("space_settings") or {}))
    if str(space.version) != str(config.get("space_version", space.version)):
        raise NasError(
            f"study {study_name!r} was searched on {config['space']} space version {config.get('space_version')}, "
            f"this toolkit has version {space.version}; use the toolkit version that ran the search"
        )
    return Ledger(url, study_name, space, **options)


def _wait_for_file(url: str, study_name: str, wait: float) -> None:
    """For a local ledger (SQLite, journal): wait up to ``wait`` seconds for its file, then fail without making one."""
    from .storage import local_file

    path = local_file(url)
    deadline, pause = time.monotonic() + wait, 0.2
    while path is not None and not os.path.isfile(path):
        if time.monotonic() + pause > deadline:
            waited = f" after waiting {wait:g} s" if wait else ""
            raise StorageError(
                f"no ledger at {path}{waited}; start the search first (nas search --storage {path} "
                f"--study {study_name}), or give a longer --wait"
            )
        time.sleep(pause)
        pause = min(5.0, pause * 1.5)


def _wait_for_study(storage: Any, study_name: str, wait: float) -> int | None:
    deadline, pause = time.monotonic() + wait, 0.2
    while True:
        try:
            return storage.get_study_id_from_name(study_name)
        except KeyError:
            if time.monotonic() + pause > deadline:
                return None
            time.sleep(pause)
            pause = min(5.0, pause * 1.5)


def _wait_for_config(storage: Any, study_id: int, wait: float = 5.0) -> Any:
    """The study's config; a study just created gets it a moment later."""
    deadline = time.monotonic() + wait
    while True:
        raw = storage.get_study_user_attrs(study_id).get(CONFIG_ATTR)
        if raw is not None or time.monotonic() > deadline:
            return raw
        time.sleep(0.1)
