"""Each private API the toolkit uses still exists and behaves as relied on: a new Optuna, NNI or torch fails here.

The uses themselves live in one place each (nas/private_apis.py, estimators/torch_private.py).
"""

from __future__ import annotations

import optuna
import torch

from estimators.torch_private import TorchDispatchMode, overload_packet
from nas import private_apis


def test_optuna_heartbeat_check_reads_a_storage(tmp_path):
    plain = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'a.db'}")
    beating = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'b.db'}", heartbeat_interval=5)
    assert private_apis.heartbeat_enabled(plain) is False and private_apis.heartbeat_enabled(beating) is True


def test_optuna_frozen_trial_id_is_the_storage_key(tmp_path):
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'a.db'}")
    study = optuna.create_study(storage=storage, study_name="s")
    trial = study.ask()
    frozen = study.get_trials(deepcopy=False)[0]
    assert (
        private_apis.trial_id(frozen)
        == trial._trial_id
        == storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name("s"), frozen.number)
    )


def test_optuna_nsga2_generation_key_is_a_system_attribute_name():
    key = private_apis.nsga2_generation_key()
    assert isinstance(key, str) and "generation" in key


def test_nni_evolution_tuner_is_seeded_and_replays():
    space = {"a": {"_type": "choice", "_value": [1, 2, 3]}, "b": {"_type": "choice", "_value": [4, 5]}}
    first, second = (private_apis.seeded_nni_evolution_tuner(seed=7, population=4) for _ in range(2))
    for tuner in (first, second):
        tuner.update_search_space(space)
    assert [first.generate_parameters(i) for i in range(4)] == [second.generate_parameters(i) for i in range(4)]
    replayed = private_apis.seeded_nni_evolution_tuner(seed=7, population=4)
    replayed.update_search_space(space)
    private_apis.replay_nni_evolution_trial(
        replayed, 0, {"a": {"_index": 0, "_value": 1}, "b": {"_index": 1, "_value": 5}}, {"a": 1, "b": 5}, 0.5
    )
    assert 0 not in replayed.running_trials and any(i.result == 0.5 for i in replayed.population)


def test_nni_says_population_is_empty_when_every_individual_is_out():
    tuner = private_apis.seeded_nni_evolution_tuner(seed=0, population=2)
    tuner.update_search_space({"a": {"_type": "choice", "_value": [1, 2]}})
    tuner.generate_parameters(0)
    tuner.generate_parameters(1)
    try:
        tuner.generate_parameters(2)
    except RuntimeError as error:
        assert private_apis.NNI_POPULATION_EMPTY in str(error)
    else:
        raise AssertionError("NNI no longer refuses when its population is out: nni_tuner.ask must change")


def test_torch_dispatch_mode_sees_every_operator_family():
    seen = []

    class Recorder(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            seen.append(overload_packet(func).__name__)
            return func(*args, **(kwargs or {}))

    with Recorder():
        torch.nn.functional.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2))
    assert "convolution" in seen
