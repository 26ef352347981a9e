"""What a finished (or running) search holds, read back from its ledger alone.

``nas report`` and ``nas export`` both start here: the study's stored
settings rebuild its space and strategy, the trials under the search's
estimator fingerprint are its history, and the strategy itself replays the
expansion path from that history, so a report of a killed search is as
right as one of a finished search.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .ledger import Ledger, open_study
from .strategies.base import (
    COMPLETE,
    Strategy,
    TrialRecord,
    accuracy_se,
    aggregate_runs,
)
from .study_config import repeats_of, strategy_from_config


@dataclass
class StudyReport:
    """One study: its settings, strategy, search history and final trainings."""

    ledger: Ledger
    config: dict[str, Any]
    strategy: Strategy
    history: list[TrialRecord]  # one record per point, its training runs merged
    finals: list[TrialRecord]
    runs: list[TrialRecord] = field(default_factory=list)  # every training run, as the ledger holds them

    @property
    def name(self) -> str:
        return self.ledger.study_name

    @property
    def space(self):
        return self.ledger.space

    def complete(self) -> list[TrialRecord]:
        return [r for r in self.history if r.state == COMPLETE and r.accuracy is not None]

    def chosen(self) -> TrialRecord | None:
        point = self.strategy.chosen(self.history)
        return next((r for r in self.history if r.point == point and r.state == COMPLETE), None)

    def final_of(self, record: TrialRecord | None) -> TrialRecord | None:
        if record is None:
            return None
        return next((f for f in reversed(self.finals) if f.point == record.point and f.state == COMPLETE), None)


def load_report(url: str, study_name: str) -> StudyReport:
    ledger = open_study(url, study_name)
    config = ledger.config() or {}
    strategy = strategy_from_config(ledger.space, config)
    runs = ledger.records(config.get("estimator"))
    finals = [r for r in ledger.records(None, roles_excluded=()) if r.attrs.get("role") == "final"]
    return StudyReport(ledger, config, strategy, aggregate_runs(runs, repeats_of(config)), finals, runs)


def expansion_path(strategy: Strategy, history: Sequence[TrialRecord]) -> list[dict[str, Any]]:
    """The coordinate search's path as JSON-ready steps (empty for strategies without one)."""
    if not hasattr(strategy, "expansion_path"):
        return []
    records = {r.point: r for r in history if r.state == COMPLETE}

    def measured(point) -> dict[str, Any]:
        record = records.get(point)
        if record is None:
            return {"accuracy": None, "accuracy_se": None, "runs": 0}
        return {
            "accuracy": record.accuracy,
            "accuracy_se": accuracy_se(record),
            "runs": int(record.attrs.get("runs", 1)),
        }

    def cost(point) -> dict[str, float]:
        return {"gmacs": strategy.space.complexity(point).macs / 1e9, **latency_of(strategy, point)}

    return [
        {
            "step": step.step,
            "operation": step.operation,
            "role": step.role,
            "point": step.point.key,
            **cost(step.point),
            **measured(step.point),
            **({"decision": step.decision.as_dict()} if getattr(step, "decision", None) is not None else {}),
            "candidates": {op: {"point": p.key, **cost(p), **measured(p)} for op, p in step.candidates.items()},
        }
        for step in strategy.expansion_path(history)
    ]


def latency_of(strategy: Strategy, point) -> dict[str, float]:
    """``{"latency_ms": ...}`` when the strategy's cost is predicted latency
    (its unit is microseconds), else nothing."""
    from .costs import MICROSECONDS_PER_MS, LatencyCost

    return {"latency_ms": strategy.cost(point) / MICROSECONDS_PER_MS} if isinstance(strategy.cost, LatencyCost) else {}


def pareto_front(
    records: Sequence[TrialRecord], cost: Callable[[TrialRecord], int] = lambda r: r.cost
) -> list[TrialRecord]:
    """Completed trials no other beats on both accuracy (higher) and ``cost``
    (lower; the search's cost by default), by increasing cost."""
    from .metrics import pareto

    return pareto((r for r in records if r.state == COMPLETE and r.accuracy is not None), cost, lambda r: r.accuracy)


def macs_of(record: TrialRecord) -> int:
    """A trial's multiply-adds: its ``macs`` attribute
    (a record's ``macs`` is the search's cost, microseconds under latency)."""
    return int(record.attrs.get("macs", record.cost))


def trial_rows(report: StudyReport) -> list[dict[str, Any]]:
    """One row per trial (search, then final trainings): what the table and the CSV show."""
    rows = []
    for record in [*(report.runs or report.history), *report.finals]:
        attrs = record.attrs
        rows.append(
            {
                "trial": attrs.get("number"),
                "state": record.state,
                "role": attrs.get("role", ""),
                "step": attrs.get("step", ""),
                "axis": attrs.get("operation") or "",
                "point": record.point.key,
                "gmacs": round(macs_of(record) / 1e9, 6),
                "params": attrs.get("params", ""),
                "top1": round(record.accuracy if record.accuracy is not None else attrs["pruned_top1"], 4)
                if record.accuracy is not None or "pruned_top1" in attrs
                else "",
                "top1_se": "" if accuracy_se(record) is None else round(accuracy_se(record), 4),
                "seed": int(attrs.get("repeat", 0)) + 1,
                "epochs": attrs.get("fidelity", attrs.get("epochs", "")),
                "seconds": round(float(attrs.get("train_seconds", 0.0)), 1) if "train_seconds" in attrs else "",
                "input_shape": "x".join(map(str, attrs.get("input_shape", []))),
                "note": attrs.get("fail_reason", "")
                or _pruned_note(attrs)
                or _inherit_note(attrs)
                or ("retry of %s" % attrs["retry_of"] if "retry_of" in attrs else ""),
            }
        )
    return rows


def train_seconds(report: StudyReport) -> float:
    """Seconds of every training the study ran, search and final trainings, a pruned one's up to its epoch.

    Summed over the ledger's runs, not the per-point history: a point trained under several seeds (``--repeats``,
    a tie's extra seeds) is one merged record there, which keeps only its first run's seconds.
    """
    return sum(float(r.attrs.get("train_seconds", 0.0)) for r in [*(report.runs or report.history), *report.finals])


def _pruned_note(attrs: Mapping[str, Any]) -> str:
    """``pruned after epoch 3`` for a trial a pruner stopped (its top-1 is the one it had then)."""
    return f"pruned after epoch {attrs['pruned_at_epoch']}" if "pruned_at_epoch" in attrs else ""


def _inherit_note(attrs: Mapping[str, Any]) -> str:
    """``widen from trial 4`` for a candidate that started from its parent's weights; why not where it did not."""
    if attrs.get("inherited"):
        return f"{attrs.get('transfer', 'grown')} from trial {attrs.get('parent_trial', attrs.get('start_trial'))}"
    return str(attrs.get("inherit_note", ""))
