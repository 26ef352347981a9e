"""Inherited weights (``nas search --inherit``): the checkpoint store, the parent's weights, kill and resume."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import optuna
import pytest
import torch

from estimators.proxy import CandidateFailed, ProxyAccuracy, ProxySchedule
from nas.checkpoints import CheckpointStore, CheckpointUnavailable, CheckpointUnwritable, default_folder
from nas.cli import main
from nas.config import SearchConfig
from nas.engine import check_inherit, checkpoint_store
from nas.inheritance import CHECKPOINT_RETRIES, starting_weights, transfer_summary
from nas.strategies.base import COMPLETE, FAILED, TrialRecord
from nas.strategies.random_search import RandomSearch
from spaces import get_space
from spaces.errors import NasError
from tests.nas.test_cli_search import TINY, kill_when, nas_command
from tests.spaces.toy_space import ToySpace

COMPLETE_STATE = optuna.trial.TrialState.COMPLETE
INHERIT = ["--inherit", "--inherit-epochs", "0.25", "--final-epochs", "0"]


# -- the checkpoint store ---------------------------------------------------------------------------------------------
def test_a_state_dict_round_trips_through_the_store_under_its_digest(tmp_path):
    store = CheckpointStore.in_folder(tmp_path / "weights")
    state = {"a.weight": torch.arange(6.0).reshape(2, 3), "a.bias": torch.zeros(2)}
    ref = store.save(state)
    assert ref["id"].startswith("weights-") and len(ref["sha256"]) == 64 and ref["bytes"] > 0
    assert (tmp_path / "weights" / ref["id"]).stat().st_size == ref["bytes"]
    loaded = store.load(ref)
    assert set(loaded) == set(state) and all(torch.equal(loaded[k], state[k]) for k in state)
    assert store.save(state) == ref, "the same weights saved again (a retrained candidate) are the same artifact"


def test_a_missing_or_corrupt_checkpoint_is_reported_not_loaded(tmp_path):
    store = CheckpointStore.in_folder(tmp_path)
    ref = store.save({"w": torch.ones(3)})
    path = tmp_path / ref["id"]
    body = bytearray(path.read_bytes())
    body[len(body) // 2] ^= 0xFF
    path.write_bytes(bytes(body))
    with pytest.raises(CheckpointUnavailable, match="is corrupt"):
        store.load(ref)
    path.unlink()
    with pytest.raises(CheckpointUnavailable, match="is missing from"):
        store.load(ref)
    with pytest.raises(CheckpointUnavailable, match="records no checkpoint"):
        store.load(None)


class StoredLedger:
    """A ledger's study attributes and finished trials, as checkpoint_store reads them."""

    def __init__(self, folder: str | None = None, refs=()) -> None:
        self.folder, self.refs = folder, list(refs)

    def attr(self, key: str):
        return self.folder if key == "checkpoints" else None

    def records(self):
        return [TrialRecord(get_space("x3d").base, COMPLETE, 0.5, 1, {"checkpoint": ref}) for ref in self.refs]


def test_checkpoints_go_beside_a_sqlite_ledger_and_a_database_needs_a_folder(tmp_path):
    assert default_folder(f"sqlite:///{tmp_path}/nas.db") == f"{tmp_path}/nas.db.artifacts"
    assert default_folder("postgresql://user@host/db") is None
    with pytest.raises(NasError, match="needs --checkpoints DIR"):
        checkpoint_store(SearchConfig(inherit=True), "postgresql://user@host/db", StoredLedger())
    assert checkpoint_store(
        SearchConfig(inherit=True), "postgresql://u@h/db", StoredLedger(str(tmp_path))
    ).where == str(tmp_path), "a resumed database search reads its folder from the study"
    space = get_space("x3d")
    with pytest.raises(NasError, match="grow from a parent"):
        check_inherit(SearchConfig(inherit=True), RandomSearch(space, target=10**8))
    with pytest.raises(NasError, match="need --inherit"):
        SearchConfig(inherit_epochs=1.0)
    assert checkpoint_store(SearchConfig(), "sqlite:///x.db", StoredLedger()) is None
    assert not (tmp_path / "nas.db.artifacts").exists(), "no store is looked up, so no folder made, without --inherit"


def test_the_folder_exists_once_the_study_names_it_and_a_refused_study_leaves_none(tmp_path):
    """A worker joining before the search's first save reads the folder's name from the study: it must be there."""
    store = CheckpointStore.in_folder(tmp_path / "named")
    with store.created_for():
        assert (tmp_path / "named").is_dir()
    assert (tmp_path / "named").is_dir() and not any((tmp_path / "named").iterdir())
    refused = CheckpointStore.in_folder(tmp_path / "refused")
    with pytest.raises(NasError, match="differs"), refused.created_for():
        raise NasError("the study differs")
    assert not (tmp_path / "refused").exists(), "a refused search left its empty checkpoint folder behind"
    kept = CheckpointStore.in_folder(tmp_path / "named")
    kept.save({"w": torch.ones(1)})
    with pytest.raises(NasError), kept.created_for():
        raise NasError("refused on resume")
    assert any((tmp_path / "named").iterdir()), "a folder this search did not make is never removed"


def test_a_resumed_search_given_another_folder_must_find_its_checkpoints_there(tmp_path):
    first = CheckpointStore.in_folder(tmp_path / "first")
    ref = first.save({"w": torch.ones(2)})
    ledger = StoredLedger(first.where, [ref])
    with pytest.raises(NasError, match="lacks 1 of the 1 checkpoints"):
        checkpoint_store(SearchConfig(inherit=True, checkpoints=str(tmp_path / "other")), "sqlite:///x.db", ledger)
    (tmp_path / "mounted").symlink_to(tmp_path / "first")  # the same folder seen under another name
    mounted = checkpoint_store(
        SearchConfig(inherit=True, checkpoints=str(tmp_path / "mounted")), "sqlite:///x.db", ledger
    )
    assert torch.equal(mounted.load(ref)["w"], torch.ones(2))


def test_weights_are_written_whole_or_not_at_all_and_the_same_weights_are_not_rewritten(tmp_path, monkeypatch):
    store = CheckpointStore.in_folder(tmp_path)
    ref = store.save({"w": torch.ones(4)})
    written = (tmp_path / ref["id"]).stat().st_mtime_ns
    assert store.save({"w": torch.ones(4)}) == ref and (tmp_path / ref["id"]).stat().st_mtime_ns == written
    assert [p.name for p in tmp_path.iterdir()] == [ref["id"]], "a temporary file was left behind"

    def full_disk(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.artifacts, "write", full_disk)
    with pytest.raises(CheckpointUnwritable, match="No space left on device"):
        store.save({"w": torch.zeros(4)})


# -- where a candidate starts ---------------------------------------------------------------------------------------
def _parent(space, store: CheckpointStore) -> tuple[TrialRecord, dict]:
    """The base as a finished trial whose (untrained) weights are in the store."""
    state = space.build(space.base).state_dict()
    return TrialRecord(space.base, COMPLETE, 0.5, 1, {"number": 7, "checkpoint": store.save(state)}), state


def test_a_candidate_starts_from_its_parents_checkpoint_by_the_spaces_rule(tmp_path):
    space = get_space("x3d", base_crop=16, head_width=32)
    store = CheckpointStore.in_folder(tmp_path)
    parent, state = _parent(space, store)
    attrs = {"parent": space.base.key, "operation": "width"}
    start, notes = starting_weights(space, space.expand(space.base, "width"), 0, attrs, [parent], store)
    assert start[0] == space.base and notes == {"parent_trial": 7, "transfer": "widen"}
    assert set(start[1]) == set(state) and all(torch.equal(start[1][k], v) for k, v in state.items())
    _, base_notes = starting_weights(space, space.base, 0, {"step": 0, "role": "base"}, [], store)
    assert base_notes["inherited"] is False and "no parent" in base_notes["inherit_note"]


def test_an_operation_the_space_has_no_rule_for_is_named_and_trains_from_scratch(tmp_path):
    space = ToySpace()
    store = CheckpointStore.in_folder(tmp_path)
    operation = space.operations[0].name
    parent = TrialRecord(space.base, COMPLETE, 0.5, 1, {"number": 3})
    child = space.expand(space.base, operation)
    start, notes = starting_weights(
        space, child, 0, {"parent": space.base.key, "operation": operation}, [parent], store
    )
    assert start is None and notes["inherited"] is False and notes["parent_trial"] == 3
    assert f"no weight-transfer rule for operation {operation!r}" in notes["inherit_note"]


def test_the_search_says_at_its_start_which_operations_inherit_and_which_train_from_scratch():
    assert transfer_summary(get_space("x3d")) == (
        "inherited weights: candidates start from their parent (fast copy, "
        "temporal copy, spatial copy, width widen, bottleneck widen, "
        "depth deepen)"
    )
    toy = ToySpace()
    names = ", ".join(op.name for op in toy.operations)
    assert transfer_summary(toy).endswith(f"space 'toy' has no rule for {names}: those candidates train from scratch")


def test_an_unreadable_parent_checkpoint_fails_the_trial_for_retry_then_trains_from_scratch(tmp_path):
    space = get_space("x3d", base_crop=16, head_width=32)
    store = CheckpointStore.in_folder(tmp_path)
    parent, _ = _parent(space, store)
    (tmp_path / parent.attrs["checkpoint"]["id"]).unlink()
    attrs = {"parent": space.base.key, "operation": "depth"}
    child = space.expand(space.base, "depth")
    with pytest.raises(CandidateFailed, match="is missing from") as failure:
        starting_weights(space, child, 0, attrs, [parent], store)
    assert failure.value.retry and not failure.value.trained, "it costs no budget and is tried again"
    assert failure.value.attrs == {"checkpoint_failure": True}
    killed = TrialRecord(child, FAILED, None, 1, {"retry": True, "fail_reason": "interrupted"})
    with pytest.raises(CandidateFailed):  # a kill is no checkpoint failure: the retry is still owed
        starting_weights(space, child, 0, attrs, [parent, killed], store)
    failed = [TrialRecord(child, FAILED, None, 1, {"retry": True, "checkpoint_failure": True})] * CHECKPOINT_RETRIES
    start, notes = starting_weights(space, child, 0, attrs, [parent, *failed], store)
    assert start is None and notes["inherited"] is False and "is missing from" in notes["inherit_note"]


def test_the_fingerprint_names_inheritance_and_searches_without_it_keep_theirs(tiny_cache):
    same = ProxyAccuracy(tiny_cache, ProxySchedule(epochs=1, inherit=True))
    assert (
        same.fingerprint()
        == ProxyAccuracy(tiny_cache, ProxySchedule(epochs=1, inherit=True, inherit_epochs=1)).fingerprint()
    )
    plain = ProxyAccuracy(tiny_cache, ProxySchedule(epochs=1))
    inheriting = ProxyAccuracy(tiny_cache, ProxySchedule(epochs=1, inherit=True, inherit_epochs=0.5))
    assert "inherit" not in plain.settings()["schedule"]
    assert inheriting.settings()["schedule"]["inherit_epochs"] == 0.5
    assert plain.fingerprint() != inheriting.fingerprint()
    shorter = ProxyAccuracy(tiny_cache, ProxySchedule(epochs=1, inherit=True, inherit_epochs=0.25))
    assert shorter.fingerprint() != inheriting.fingerprint()


# -- a real inherited search ------------------------------------------------------------------------------------------
def _inherited_search(tmp_path: Path, name: str, *extra: str, kill_after: int | None = None) -> tuple[dict, list, Path]:
    env = {**os.environ, "NAS_CACHE_DIR": str(tmp_path / "cache")}
    storage = f"sqlite:///{tmp_path / name}.db"
    command = nas_command("search", *TINY, *INHERIT, "--storage", storage, "--json", *extra)
    if kill_after is not None:
        assert kill_when(command, env, "top-1", count=kill_after)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    trials = optuna.load_study(study_name=summary["study"], storage=storage).get_trials()
    return summary, trials, tmp_path / f"{name}.db.artifacts"


def _check_lineage(trials: list, folder: Path) -> None:
    """Every inherited candidate started from a parent that had finished, and every checkpoint is whole."""
    by_number = {t.number: t for t in trials}
    complete = [t for t in trials if t.state == COMPLETE_STATE]
    for trial in complete:
        ref = trial.user_attrs["checkpoint"]
        assert CheckpointStore.in_folder(folder).load(ref) is not None
        if trial.user_attrs.get("inherited"):
            parent = by_number[trial.user_attrs["parent_trial"]]
            assert parent.state == COMPLETE_STATE and parent.datetime_complete <= trial.datetime_start
            assert json.dumps(parent.params, sort_keys=True) != json.dumps(trial.params, sort_keys=True)
            assert trial.user_attrs["fidelity"] == 0.25 and trial.user_attrs["transfer"] in ("copy", "widen", "deepen")


@pytest.fixture(scope="module")
def inherited_reference(tmp_path_factory):
    """An uninterrupted inherited search in one process: what a killed one and one with workers must reproduce."""
    return _inherited_search(tmp_path_factory.mktemp("inherited"), "reference")


def test_an_inherited_search_killed_mid_way_resumes_to_the_same_search_with_whole_lineage(
    inherited_reference, tmp_path
):
    reference, reference_trials, reference_folder = inherited_reference
    inherited = [t for t in reference_trials if t.user_attrs.get("inherited")]
    assert inherited and {t.user_attrs["transfer"] for t in inherited} == {"copy", "widen", "deepen"}
    assert all(t.user_attrs["role"] != "base" for t in inherited)
    _check_lineage(reference_trials, reference_folder)

    resumed, trials, folder = _inherited_search(tmp_path, "killed", kill_after=3)
    assert resumed["path"] == reference["path"] and resumed["chosen"] == reference["chosen"]
    complete = [t for t in trials if t.state == COMPLETE_STATE]
    keys = [json.dumps(t.params, sort_keys=True) + str(t.user_attrs.get("repeat", 0)) for t in complete]
    assert len(keys) == len(set(keys)), "a finished trial was trained twice"
    _check_lineage(trials, folder)


def test_an_inherited_search_with_a_worker_shares_its_checkpoints_and_takes_the_same_path(
    inherited_reference, tmp_path
):
    env = {**os.environ, "NAS_CACHE_DIR": str(tmp_path / "cache")}
    storage = f"sqlite:///{tmp_path / 'shared'}.db"
    worker = subprocess.Popen(
        nas_command("worker", "--storage", storage, "--study", "shared", "--wait", "120", "--json"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    search = subprocess.run(
        nas_command("search", *TINY, *INHERIT, "--storage", storage, "--study", "shared", "--json"),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert search.returncode == 0, search.stderr[-2000:]
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err[-2000:]
    summary = json.loads(search.stdout.strip().splitlines()[-1])
    assert summary["path"] == inherited_reference[0]["path"] and summary["chosen"] == inherited_reference[0]["chosen"]
    trials = optuna.load_study(study_name="shared", storage=storage).get_trials()
    owners = {t.user_attrs["owner"]["pid"] for t in trials if t.state == COMPLETE_STATE}
    assert len(owners) == 2, "the worker trained nothing"
    _check_lineage(trials, tmp_path / "shared.db.artifacts")


def test_a_lost_checkpoint_folder_costs_one_retry_per_candidate_and_a_final_training_starts_from_search_weights(
    tmp_path,
):
    _inherited_search(tmp_path, "lost", "--budget", "1")  # the base alone
    for file in (tmp_path / "lost.db.artifacts").iterdir():
        file.unlink()
    summary, trials, _ = _inherited_search(tmp_path, "lost", "--final-epochs", "1", "--final-start", "search")
    assert summary["chosen"] is not None and summary["chosen"]["final_accuracy"] is not None
    (final,) = [t for t in trials if t.user_attrs.get("role") == "final"]
    chosen = [
        t
        for t in trials
        if t.state == COMPLETE_STATE and t.user_attrs.get("role") != "final" and t.params == final.params
    ]
    assert final.user_attrs["inherited"] is True and final.user_attrs["start_trial"] == chosen[0].number
    assert final.user_attrs["fidelity"] == 1.0
    (tmp_path / "lost.db.artifacts" / chosen[0].user_attrs["checkpoint"]["id"]).unlink()
    summary, trials, _ = _inherited_search(tmp_path, "lost", "--final-epochs", "2", "--final-start", "search")
    (final,) = [t for t in trials if t.user_attrs.get("role") == "final" and t.user_attrs["fidelity"] == 2.0]
    assert final.state == COMPLETE_STATE and "trained from scratch" in final.user_attrs["inherit_note"], (
        "a lost checkpoint of the chosen model costs its head start, not the final training"
    )
    failed = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    missing = [t for t in failed if "is missing from" in t.user_attrs["fail_reason"]]
    assert len(missing) >= 5 and all(t.user_attrs["retry"] and not t.user_attrs["trained"] for t in missing)
    retried = [t for t in trials if t.user_attrs.get("retry_of") in {f.number for f in missing}]
    assert len(retried) == len(missing), "each candidate of the lost parent was tried once more"
    assert all(t.state == COMPLETE_STATE and "trained from scratch" in t.user_attrs["inherit_note"] for t in retried)
    assert not [t for t in failed if t not in missing and t.user_attrs["trained"]], "a training failed"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--inherit", "--strategy", "random", "--budget", "2"], "grow from a parent (coordinate); 'random'"),
        (["--inherit-epochs", "1"], "need --inherit"),
        (["--final-start", "search"], "need --inherit"),
        (["--checkpoints", "somewhere"], "--checkpoints is for searches with --inherit"),
        (["--inherit", "--inherit-epochs", "0"], "argument --inherit-epochs: 0 is out of range"),
        (["--inherit", "--final-start", "halfway"], "argument --final-start: invalid choice: 'halfway'"),
    ],
)
def test_bad_inheritance_input_is_one_line_and_exit_2(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NAS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    assert main(["search", *TINY, *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err and "Traceback" not in err, err
    assert not (tmp_path / "nas.db").exists() and not (tmp_path / "somewhere").exists()


def test_a_built_inheriting_search_has_its_checkpoint_folder_before_its_first_training(tmp_path, monkeypatch):
    """What a worker joining at once needs: the folder the study names exists when the study does."""
    from nas.engine import build_search

    monkeypatch.setenv("NAS_CACHE_DIR", str(tmp_path / "cache"))
    built = build_search(
        SearchConfig(
            data=TINY[1],
            space_options={"base_crop": 16, "base_stride": 16, "head_width": 32},
            target_gflops=0.0009,
            epochs=0.5,
            inherit=True,
            storage=f"sqlite:///{tmp_path / 'early.db'}",
        )
    )
    assert built.ledger.attr("checkpoints") == str(tmp_path / "early.db.artifacts")
    assert (tmp_path / "early.db.artifacts").is_dir() and not any((tmp_path / "early.db.artifacts").iterdir())
