"""Latency: layer listing on meta, the per-layer table (once per layer, on disk), calibration
and loose agreement with measuring.

No assertion depends on how fast this machine is: predictions are compared to
measurements only within a factor that no load can break.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from estimators.latency import LatencySettings, MeasuredLatency, measure_model
from estimators.latency_table import (
    LatencyTable,
    LayerLatencyPredictor,
    fit_calibration,
    reduced,
)
from estimators.layers import TensorSpec, list_layers
from spaces import get_space
from spaces.errors import NasError

QUICK = LatencySettings(warmup=1, repeats=3, batch=2)


class Residual(nn.Module):
    """A container whose forward adds: the add is glue, run outside every leaf module."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(channels)

    def forward(self, x):
        return x + self.norm(self.conv(x))


def tiny_network() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), Residual(8), Residual(8), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)
    )


def test_list_layers_sees_every_leaf_call_and_the_glue_between_them():
    network = list_layers(tiny_network(), (1, 3, 16, 16))
    kinds = [call.key.split("(")[0].rsplit(".", 1)[1] for call in network.layers]
    assert kinds == [
        "Conv2d",
        "Conv2d",
        "BatchNorm2d",
        "Conv2d",
        "BatchNorm2d",
        "AdaptiveAvgPool2d",
        "Flatten",
        "Linear",
    ]
    assert network.layers[1].key == network.layers[3].key  # the two residual convs are one table entry
    assert network.layers[0].key != network.layers[1].key  # another configuration, another entry
    assert "float32[1, 3, 16, 16]" in network.layers[0].key and network.layers[0].out_numel == 8 * 16 * 16
    assert [str(call.op) for call in network.glue] == ["aten.add.Tensor", "aten.add.Tensor"]


def test_a_model_with_real_weights_is_listed_without_being_moved():
    model = tiny_network()
    list_layers(model, (1, 3, 8, 8))
    assert not next(model.parameters()).is_meta


def test_reduced_shrinks_large_inputs_consistently_and_says_how_much():
    big, gate = TensorSpec((1, 16, 32, 64, 64), "float32"), TensorSpec((1, 16, 1, 1, 1), "float32")
    (small, small_gate), scale = reduced((big, gate), out_numel=0, limit=big.numel // 8)
    assert small.numel <= big.numel // 8 and small_gate == gate  # the broadcast gate keeps its ones
    assert scale == pytest.approx(big.numel / small.numel)
    assert reduced((gate,), out_numel=0, limit=10) == ((gate,), 1.0)  # nothing beyond the channel to shrink


def test_fit_calibration_recovers_a_line_and_falls_back_to_a_ratio():
    fit = fit_calibration([1.0, 2.0, 4.0], [2.5, 4.5, 8.5])
    assert fit["scale"] == pytest.approx(2.0) and fit["offset"] == pytest.approx(0.5)
    assert fit_calibration([1.0, 2.0], [3.0, 6.0]) == {"scale": 3.0, "offset": 0.0}
    assert fit_calibration([1.0, 2.0, 3.0], [3.0, 2.0, 1.0])["offset"] == 0.0  # a falling line is no calibration


def test_fit_calibration_never_predicts_a_non_positive_latency_below_the_calibration_points():
    sums, measured = [10.0, 20.0, 40.0], [5.0, 15.0, 35.0]  # least squares: offset -5, so a sum of 5 would give 0 ms
    fit = fit_calibration(sums, measured)
    assert fit["offset"] == 0.0 and fit["scale"] == pytest.approx(sum(x * y for x, y in zip(sums, measured)) / 2100)
    assert all(fit["scale"] * s + fit["offset"] > 0 for s in (0.001, 1.0, 5.0))


def test_the_table_times_each_layer_once_keeps_it_on_disk_and_predicts_a_space(
    tmp_path, toy_space_registered, monkeypatch
):
    space = get_space("toy")
    path = tmp_path / "table.json"
    predictor = LayerLatencyPredictor(QUICK, table=LatencyTable(QUICK, path), calibration_points=3)
    point = space.preset("big")
    predicted = predictor.predict_ms(space, point)
    keys = set(predictor.layers(space, point).keys())
    assert keys <= set(predictor.table.layers) and predicted > 0
    stored = json.loads(path.read_text())
    assert stored["identity"]["threads"] == 1 and stored["identity"]["torch"] == torch.__version__
    assert len(stored["calibrations"]) == 1 and set(stored["layers"]) == set(predictor.table.layers)

    def no_timing(*args, **kwargs):
        raise AssertionError("a layer in the table was timed again")

    monkeypatch.setattr("estimators.latency_table.time_layer", no_timing)
    again = LayerLatencyPredictor(QUICK, table=LatencyTable(QUICK, path), calibration_points=3)
    assert again.predict_ms(space, point) == pytest.approx(predicted)  # layers and calibration come from the file


def test_a_prediction_is_within_a_loose_bound_of_measuring_the_network(tmp_path, toy_space_registered):
    space = get_space("toy")
    predictor = LayerLatencyPredictor(QUICK, table=LatencyTable(QUICK, tmp_path / "t.json"), calibration_points=4)
    point = space.point(channels=32, layers=3, resolution=32)
    measured = measure_model(space.build(point), space.input_shape(point), QUICK)
    assert measured / 4 < predictor.predict_ms(space, point) < measured * 4


def test_measured_latency_reports_both_batches_and_fingerprints_the_device(toy_space_registered):
    space = get_space("toy")
    estimator = MeasuredLatency(QUICK)
    result = estimator.evaluate(space, space.base)
    assert set(result.metrics) == {"latency_ms", "latency_ms_batch"} and all(v > 0 for v in result.metrics.values())
    assert result.info["device"]["device"] == "cpu" and result.info["batch"] == 2
    assert (
        estimator.fingerprint()
        != MeasuredLatency(LatencySettings(warmup=1, repeats=3, batch=2, threads=2)).fingerprint()
    )


@pytest.mark.parametrize("bad", [{"threads": 0}, {"repeats": 0}, {"batch": 1.5}, {"device": "tpu"}])
def test_bad_latency_settings_are_refused_with_the_value(bad):
    with pytest.raises(NasError, match=repr(next(iter(bad.values())))):
        LatencySettings(**bad)


def test_a_corrupt_or_foreign_table_is_refused_with_its_path(tmp_path):
    path = tmp_path / "table.json"
    path.write_text("{not json")
    with pytest.raises(NasError, match="unreadable.*delete it"):
        LatencyTable(QUICK, path)
    table = LatencyTable(LatencySettings(threads=2), tmp_path / "other.json")
    table.layers["x"], table._dirty = 1.0, True
    table.save()
    with pytest.raises(NasError, match="was measured on"):
        LatencyTable(QUICK, tmp_path / "other.json")
