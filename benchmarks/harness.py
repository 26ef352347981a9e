"""What every ``python -m benchmarks.bench_NAME`` shares: flags, timing, the JSON line."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from typing import Any


def parse_args(
    description: str, argv: Sequence[str] | None = None, extra: Callable[[argparse.ArgumentParser], None] | None = None
) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a run under a minute (fewer points and repeats)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampled points")
    if extra:
        extra(parser)
    return parser.parse_args(argv)


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    """Run once; return (result, seconds)."""
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def cpu() -> dict[str, str]:
    """The CPU's model and a digest of its feature flags: two hosts of one machine kind can differ here, and then
    torch picks other kernels (same seed, other float rounding), so figures are compared only on equal ones."""
    import hashlib

    info = {"model": platform.processor() or "", "flags": ""}
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not info["model"]:
                info["model"] = value.strip()
            elif key.strip() == "flags" and not info["flags"]:
                info["flags"] = hashlib.sha256(value.strip().encode()).hexdigest()[:12]
    except OSError:
        pass
    return info


def machine() -> dict[str, Any]:
    """Where the figures were measured (they only compare within one run on one machine)."""
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "cpu": cpu(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(terse=True),
    }


def emit_json(figures: dict[str, Any]) -> None:
    print(json.dumps(figures, sort_keys=True))
