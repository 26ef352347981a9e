"""bench_workers' simulation of parallel workers, checked against hand-counted waves of equal-length trials."""

from __future__ import annotations

from benchmarks.bench_workers import simulate
from estimators.base import Estimator, Measurement
from nas.strategies.coordinate import CoordinateExpansion
from nas.strategies.random_search import RandomSearch
from spaces import get_space

SPACE = get_space("x3d", num_classes=4, base_crop=16, base_stride=16, head_width=32)
TARGET = 900_000


class TenSeconds(Estimator):
    """Every point trains in 10 s; accuracy grows with compute, so the search expands."""

    def fingerprint(self, fidelity=None) -> str:
        return "ten-seconds"

    def evaluate(self, space, point, fidelity=None) -> Measurement:
        return Measurement(point, {"accuracy": space.complexity(point).macs / 1e7}, seconds=10.0)


def test_coordinate_steps_are_waves_and_one_worker_is_serial():
    serial = simulate(SPACE, CoordinateExpansion(SPACE, target=TARGET), TenSeconds(), workers=1, budget=None)
    assert serial.seconds == 10.0 * serial.trained and serial.utilisation == 1.0
    steps, contraction = divmod(serial.trained - 1, 6)  # the base, six candidates per step, perhaps a contraction
    assert steps >= 1 and contraction in (0, 1)
    parallel = simulate(SPACE, CoordinateExpansion(SPACE, target=TARGET), TenSeconds(), workers=6, budget=None)
    assert parallel.trained == serial.trained and parallel.seconds == 10.0 * (1 + steps + contraction)
    wider = simulate(SPACE, CoordinateExpansion(SPACE, target=TARGET), TenSeconds(), workers=24, budget=None)
    assert wider.seconds == parallel.seconds and wider.utilisation < parallel.utilisation  # a step has six candidates


def test_random_search_scales_with_workers_up_to_its_budget():
    run = simulate(SPACE, RandomSearch(SPACE, target=TARGET, seed=0), TenSeconds(), workers=12, budget=26)
    assert run.trained == 26 and run.seconds == 30.0  # 12 + 12 + 2
    assert (
        simulate(SPACE, RandomSearch(SPACE, target=TARGET, seed=0), TenSeconds(), workers=1, budget=26).seconds == 260.0
    )
