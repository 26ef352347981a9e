"""A search's strategy, rebuilt from the settings stored in its study: one place for search, worker and report.

``nas search`` stores what identifies a search in the study (``Ledger.open``);
every process that works on it or reads it back (a worker, a report, a
resumed search) rebuilds the same strategy from those settings here, so a
new strategy option is added in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spaces import SearchSpace

from .costs import cost_from_config, target_of
from .strategies.base import Strategy


def strategy_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """The strategy's own options among the stored settings (today: coordinate's selection and tie rule)."""
    from .strategies.registry import get_strategy_class

    own = get_strategy_class(config["strategy"]).own_options
    return {key: config[key] for key in own if config.get(key) is not None}


def strategy_from_config(space: SearchSpace, config: Mapping[str, Any]) -> Strategy:
    """The strategy a stored search ran, with its target, seed, cost and options."""
    from .strategies.registry import get_strategy_class

    return get_strategy_class(config["strategy"])(
        space,
        target=target_of(config),
        seed=int(config.get("seed", 0)),
        cost=cost_from_config(space, config),
        **strategy_options(config),
    )


def repeats_of(config: Mapping[str, Any] | None) -> int:
    """Training seeds per point of a stored search (1 for searches stored before ``--repeats`` existed)."""
    return int((config or {}).get("repeats", 1) or 1)
