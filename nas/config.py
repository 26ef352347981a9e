"""One validated description of a search, shared by the command line and the Python API.

``nas search`` builds a :class:`SearchConfig` from its arguments and
``nas.search(...)`` from its keywords; both go through the same checks (the
ranges of :mod:`nas.values`), so a value the command line refuses is refused
from Python with the same message, naming the parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from spaces.errors import NasError

from .values import (
    COUNT,
    DATA,
    EPOCHS,
    GFLOPS,
    LATENCY_MS,
    MAX_EPOCHS,
    MAX_SECONDS,
    SEED,
    THREADS,
    BadValue,
    Real,
    Whole,
    new_study,
    output_folder,
    storage,
)

#: Most runs of one point (``--repeats``, ``--tie-max-runs``).
MAX_REPEATS = 20
DEFAULT_FINAL_EPOCHS = 40.0
DEFAULT_TIE_SIGMAS, DEFAULT_TIE_MAX_RUNS = 1.0, 3
TIE_RULES = ("reseed", "cheaper", "best")
SELECTIONS = ("accuracy", "gain_per_compute")
COSTS = ("flops", "latency")

#: The range of every number a search takes: the parser's types and the API's checks are these same objects.
RANGES: dict[str, Any] = {
    "target_gflops": GFLOPS,
    "target_ms": LATENCY_MS,
    "latency_threads": THREADS,
    "budget": COUNT,
    "time_limit": Real(0, MAX_SECONDS, low_open=True),
    "seed": SEED,
    "epochs": EPOCHS,
    "final_epochs": Real(0, MAX_EPOCHS),
    "repeats": Whole(1, MAX_REPEATS),
    "tie_sigmas": Real(0, 10),
    "seed_spread": Real(0, 1),
    "tie_max_runs": Whole(1, MAX_REPEATS),
    "lr": Real(0, 100, low_open=True),
    "threads": THREADS,
    "heartbeat": Whole(1, 3600),
    "storage_retry": Real(0, 86_400),
    "inherit_epochs": EPOCHS,
}
#: Text settings with a check of their own (None: the default).
TEXTS: dict[str, Any] = {
    "data": DATA,
    "storage": storage,
    "study": new_study,
    "checkpoints": output_folder("checkpoints"),
}
FINAL_STARTS = ("scratch", "search")
CHOICES: dict[str, tuple[str, ...]] = {
    "cost": COSTS,
    "final_start": FINAL_STARTS,
}  # tie rules and selections: the strategy checks them


@dataclass(frozen=True)
class SearchConfig:
    """Everything ``nas search`` takes; ``None`` means the space's own default (data, target, epochs, lr)."""

    space: str = "x3d"
    strategy: str = "coordinate"
    data: str | None = None
    target_gflops: float | None = None
    cost: str = "flops"
    target_ms: float | None = None
    latency_threads: int = 1
    budget: int | None = None
    time_limit: float | None = None
    seed: int = 0
    storage: str | None = None
    study: str | None = None
    device: str = "auto"
    epochs: float | None = None
    final_epochs: float = DEFAULT_FINAL_EPOCHS
    selection: str = "accuracy"
    repeats: int = 1
    tie_rule: str = "reseed"
    tie_sigmas: float = DEFAULT_TIE_SIGMAS
    tie_max_runs: int = DEFAULT_TIE_MAX_RUNS
    seed_spread: float = 0.0
    lr: float | None = None
    threads: int = 2
    space_options: Mapping[str, Any] = field(default_factory=dict)
    heartbeat: int | None = None
    storage_retry: float = 120.0
    inherit: bool = False
    inherit_epochs: float | None = None
    checkpoints: str | None = None
    final_start: str = "scratch"

    def __post_init__(self) -> None:
        for name, check in RANGES.items():
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise NasError(f"{name} must be a number, got {value!r}")
            _checked(name, check, repr(value) if isinstance(value, float) else str(value))
        for name, check in TEXTS.items():
            value = getattr(self, name)
            if value is not None:
                _checked(name, check, value if isinstance(value, str) else repr(value))
        for name, known in CHOICES.items():
            if getattr(self, name) not in known:
                raise NasError(f"{name} {getattr(self, name)!r} is not one of: {', '.join(known)}")
        for name in ("space", "strategy", "device"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise NasError(f"{name} must be a name, got {getattr(self, name)!r}")
        if not isinstance(self.inherit, bool):
            raise NasError(f"inherit must be True or False, got {self.inherit!r}")
        if not self.inherit and (self.inherit_epochs is not None or self.final_start == "search"):
            raise NasError("--inherit-epochs and --final-start search need --inherit: add it, or drop them")
        if not isinstance(self.space_options, Mapping):
            raise NasError(f"space_options must be a mapping of base-network settings, got {self.space_options!r}")

    @classmethod
    def from_options(cls, options: Any, space_options: Mapping[str, Any]) -> "SearchConfig":
        """The config of any object with attributes named like the fields (parsed ``nas search`` arguments)."""
        given = {
            f.name: getattr(options, f.name)
            for f in fields(cls)
            if f.name != "space_options" and hasattr(options, f.name)
        }
        return cls(**given, space_options=dict(space_options))


def _checked(name: str, check: Any, text: str) -> None:
    try:
        check(text)
    except BadValue as error:
        raise NasError(f"{name}: {error}") from None
