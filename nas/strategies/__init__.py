"""Search strategies: they propose points from the trial history alone."""

from .base import COMPLETE, FAILED, PRUNED, RUNNING, Proposal, Strategy, TrialRecord
from .registry import ENTRY_POINT_GROUP, get_strategy_class, list_strategies

__all__ = [
    "COMPLETE",
    "ENTRY_POINT_GROUP",
    "FAILED",
    "PRUNED",
    "Proposal",
    "RUNNING",
    "Strategy",
    "TrialRecord",
    "get_strategy_class",
    "list_strategies",
]
