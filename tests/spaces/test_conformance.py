"""The conformance suite every registered search space must pass.

Parametrised over every space the registry lists (built-in, installed
plugins) and the toy space, so a new space gets these checks for free:
validation, key stability, encode/decode, expand/contract, exports through
the real Optuna and NNI libraries, and analytic complexity == a built model.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
import random

import pytest

from estimators.counting import measure_complexity
from estimators.proxy import ProxySchedule
from spaces import InvalidPointError, Point, get_space
from spaces.errors import ExpansionError


def _sample_points(space, count: int = 20, seed: int = 0) -> list[Point]:
    rng = random.Random(seed)
    points = [space.base, *space.presets.values()]
    points += [space.sample(rng) for _ in range(count // 2)]
    points += [space.sample(rng, on_ladder=False) for _ in range(count - count // 2)]
    return points


def test_axes_validate_and_reject_with_the_axis_and_value(any_space):
    for axis in any_space.axes:
        assert axis.validate(axis.base) == axis.base
        for bad in (axis.low - 1, axis.high * 2 + 1):
            with pytest.raises(InvalidPointError, match=rf"axis '{axis.name}'.*{int(bad) if axis.integer else ''}"):
                any_space.point({axis.name: bad})
        for bad in ("3", None, True, math.nan, math.inf):
            with pytest.raises(InvalidPointError, match=f"axis '{axis.name}'"):
                any_space.point({axis.name: bad})


def test_unknown_axis_is_named(any_space):
    with pytest.raises(InvalidPointError, match="no_such_axis"):
        any_space.point({"no_such_axis": 1})


def test_keys_are_stable_and_order_free(any_space):
    again = get_space(any_space.name)
    for point in _sample_points(any_space):
        reordered = dict(reversed(list(point.items())))
        assert any_space.point(reordered) == point
        assert any_space.point(reordered).key == point.key
        assert again.parse_point(point.key) == point
        assert hash(again.point(point.as_dict())) == hash(point)
        assert pickle.loads(pickle.dumps(point)) == point


def test_points_are_immutable(any_space):
    point = any_space.base
    with pytest.raises((AttributeError, TypeError)):
        point["x"] = 1  # type: ignore[index]
    with pytest.raises(AttributeError):
        point._items = ()  # type: ignore[misc]


def test_encode_decode_round_trip(any_space):
    for point in _sample_points(any_space, 40):
        vector = any_space.encode(point)
        assert len(vector) == len(any_space.axes)
        assert all(0.0 <= v <= 1.0 for v in vector)
        assert any_space.decode(vector) == point


def test_sampling_is_seeded_and_valid(any_space):
    for on_ladder in (True, False):
        first = [any_space.sample(random.Random(7), on_ladder) for _ in range(3)]
        second = [any_space.sample(random.Random(7), on_ladder) for _ in range(3)]
        assert first == second
        for point in first:
            assert any_space.validate(point) == point
            if on_ladder:
                assert all(any_space.axis(name).on_ladder(value) for name, value in point.items())


def test_expand_then_contract_returns_and_costs_more(any_space):
    rng = random.Random(1)
    for point in [any_space.base, *(any_space.sample(rng) for _ in range(10))]:
        for name, bigger in any_space.expansions(point).items():
            assert any_space.contract(bigger, name) == point
            assert any_space.complexity(bigger).macs >= any_space.complexity(point).macs
            steps = any_space.contractions(bigger, name)
            assert steps[-1] == point
            for partial in steps:
                assert any_space.complexity(partial).macs <= any_space.complexity(bigger).macs


def test_neighbours_are_valid_distinct_and_one_step_away(any_space):
    point = next(iter(any_space.presets.values()))
    neighbours = any_space.neighbours(point)
    assert neighbours and len(set(neighbours)) == len(neighbours) and point not in neighbours
    reachable = set(any_space.expansions(point).values())
    for op in any_space.operations:
        try:
            reachable.add(any_space.contract(point, op.name))
        except ExpansionError:  # the bottom of this axis's ladder: the one documented refusal; anything else is a bug
            pass
    assert set(neighbours) == reachable


def test_optuna_export_round_trips_through_a_real_study(any_space):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for on_ladder in (True, False):
        distributions = any_space.to_optuna(on_ladder=on_ladder)
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=4))
        for _ in range(8):
            trial = study.ask(distributions)
            point = any_space.from_params(trial.params)
            study.tell(trial, float(any_space.complexity(point).macs))
            for name, dist in distributions.items():  # the point's values are the trial's values
                assert dist._contains(dist.to_internal_repr(point[name]))
        rebuilt = optuna.distributions.json_to_distribution(
            optuna.distributions.distribution_to_json(distributions[any_space.axis_names[0]])
        )
        assert rebuilt == distributions[any_space.axis_names[0]]
    for point in any_space.presets.values():
        assert any_space.from_params(point.as_dict()) == point


@pytest.mark.parametrize("tuner_name", ["tpe", "evolution"])
def test_nni_tuners_generate_decodable_points(any_space, tuner_name):
    from nni.algorithms.hpo.evolution_tuner import EvolutionTuner
    from nni.algorithms.hpo.tpe_tuner import TpeTuner

    for on_ladder in (True, False):
        exported = json.loads(json.dumps(any_space.to_nni(on_ladder=on_ladder)))  # must be plain JSON
        tuner = TpeTuner(seed=0) if tuner_name == "tpe" else EvolutionTuner(population_size=4)
        tuner.update_search_space(exported)
        for trial_id in range(10):
            params = tuner.generate_parameters(trial_id)
            point = any_space.from_params(params)
            assert any_space.validate(point) == point
            tuner.receive_trial_result(trial_id, params, -float(any_space.complexity(point).macs))


def test_describe_is_json(any_space):
    described = json.loads(json.dumps(any_space.describe()))
    assert [a["name"] for a in described["axes"]] == list(any_space.axis_names)
    assert described["space"] == any_space.name


def test_analytic_complexity_equals_a_built_model(any_space):
    import torch

    for point in _sample_points(any_space, 6):
        analytic = any_space.complexity(point)
        with torch.device("meta"):
            model = any_space.build(point)
        measured = measure_complexity(model, any_space.input_shape(point))
        assert measured.uncounted == {}
        assert (measured.macs, measured.params, measured.params_without_bn) == (
            analytic.macs,
            analytic.params,
            analytic.params_without_bn,
        ), point.key


def test_clip_spec_matches_the_input_shape(any_space):
    for point in _sample_points(any_space, 6):
        clip = any_space.clip_spec(point)
        shape = any_space.input_shape(point, batch=2)
        assert shape[0] == 2 and shape[-2:] == (clip.crop, clip.crop)
        if clip.image:  # (batch, channels, height, width): one frame read as an image
            assert len(shape) == 4 and (clip.frames, clip.stride) == (1, 1)
        else:  # (batch, channels, frames, height, width)
            assert len(shape) == 5 and shape[2] == clip.frames


def test_defaults_for_nas_search_are_valid(any_space):
    """The space's default data spec and proxy setting make a space whose base fits the default target."""
    assert isinstance(any_space.default_data, str) and any_space.default_data
    proxy = get_space(any_space.name, **any_space.proxy_defaults.get("space", {}))
    target = any_space.proxy_defaults.get("target_gflops")
    if target is not None:
        assert proxy.complexity(proxy.base).macs < target * 1e9
    schedule = any_space.proxy_defaults.get("schedule", {})
    fields = {f.name for f in dataclasses.fields(ProxySchedule)}
    assert set(schedule) <= fields - {"seed", "threads"}, f"unknown proxy schedule fields {set(schedule) - fields}"
    ProxySchedule(**schedule).train_settings(0)  # valid values
