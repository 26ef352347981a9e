"""The strategy registry: built-ins plus the ``nas.strategies`` entry points of installed packages."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from spaces.errors import NasError, unknown_name

from .base import Strategy

ENTRY_POINT_GROUP = "nas.strategies"
BUILTIN_STRATEGIES = {
    "coordinate": "nas.strategies.coordinate:CoordinateExpansion",
    "random": "nas.strategies.random_search:RandomSearch",
    "tpe": "nas.strategies.optuna_sampler:TPESearch",
    "nsga2": "nas.strategies.optuna_sampler:NSGA2Search",
    "evolution": "nas.strategies.evolution:RegularisedEvolution",
    "nni-tpe": "nas.strategies.nni_tuner:NNITPESearch",
    "nni-evolution": "nas.strategies.nni_tuner:NNIEvolutionSearch",
    "compound": "nas.strategies.compound:CompoundScaling",
    "hyperband": "nas.strategies.multi_fidelity:HyperbandSearch",
    "asha": "nas.strategies.multi_fidelity:ASHASearch",
    "bohb": "nas.strategies.multi_fidelity:BOHBSearch",
    "coordinate-sh": "nas.strategies.multi_fidelity:HalvingCoordinateExpansion",
}

#: What ``nas bench compare`` runs unless told otherwise: every built-in strategy (the pruning ones replay the
#: table's stored learning curves to their pruner).
COMPARED_BY_DEFAULT = tuple(BUILTIN_STRATEGIES)


def _sources() -> dict[str, str]:
    return {**{ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}, **BUILTIN_STRATEGIES}


def list_strategies() -> list[str]:
    return sorted(_sources())


def get_strategy_class(name: str) -> type[Strategy]:
    sources = _sources()
    if name not in sources:
        raise unknown_name(
            "strategy",
            name,
            sorted(sources),
            hint=f"Other strategies are added by packages registering the {ENTRY_POINT_GROUP!r} entry points.",
        )
    module_name, _, attribute = sources[name].partition(":")
    try:
        target = getattr(importlib.import_module(module_name), attribute)
    except Exception as error:  # a broken plugin must not take the toolkit down
        raise NasError(
            f"strategy {name!r} ({sources[name]}) failed to load: {type(error).__name__}: {error}"
        ) from error
    if not (isinstance(target, type) and issubclass(target, Strategy)):
        raise NasError(f"strategy {name!r} ({sources[name]}) is not a Strategy subclass")
    return target
