"""The toolkit from Python: a search, a finished or killed search read back, and a strategy comparison.

    import nas
    result = nas.search(space="x3d", strategy="coordinate", storage="sqlite:///nas.db", final_epochs=0)
    print(result.chosen["point"], result.chosen["proxy_accuracy"])
    again = nas.load(result.study, storage=result.storage)      # the same search, read back (also after a kill)
    table = nas.compare(strategies="coordinate,random", seeds=2, out=None)
    built = nas.build_table("table.h5", points=20, seeds="0,1", time_limit="1h")  # resumable, as nas bench build

Every keyword is a field of :class:`~nas.config.SearchConfig` and goes through
the checks the command line's flags do, so a bad value raises one
:class:`~spaces.errors.NasError` naming it, before anything is written.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from spaces.errors import NasError, RunFailure

from .config import SearchConfig


@dataclass
class SearchResult:
    """What a search found and how far it got.

    ``chosen``: the chosen point (``point``, ``gmacs``, ``params``, ``proxy_accuracy`` with its standard error
    ``proxy_accuracy_se``, ``final_accuracy`` after ``final_epochs``), or None; ``path``: the coordinate
    search's expansion path (empty for other strategies); ``trials``: every trial of the search as
    :class:`~nas.strategies.base.TrialRecord` (each seed's run of a point, in the order they were made).
    """

    study: str
    storage: str
    stopped: str
    trained: int
    chosen: dict[str, Any] | None
    path: list[dict[str, Any]]
    trials: list[Any] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    def to_dataframe(self):
        """The trials as a pandas DataFrame, one row per trial (needs pandas: ``pip install pandas``)."""
        try:
            import pandas
        except ImportError:
            raise NasError("SearchResult.to_dataframe() needs pandas; pip install pandas (or use .trials)") from None
        from .report import trial_rows

        return pandas.DataFrame(trial_rows(_TrialsView(self.trials, self.config)))


@dataclass
class _TrialsView:
    """What :func:`nas.report.trial_rows` reads of a report: every run, no merged history, no final trainings."""

    runs: list[Any]
    config: dict[str, Any]
    history: list[Any] = field(default_factory=list)
    finals: list[Any] = field(default_factory=list)


def search(*, progress: bool = False, **settings: Any) -> SearchResult:
    """Run (or resume) a search; the same settings resume the same study, as on the command line.

    ``progress``: show the command line's progress lines and bars on stderr.  ``space_options`` takes the
    base-network settings ``--space-option`` does (a mapping).  Raises :class:`~spaces.errors.RunFailure`
    when a finished search has no model (every training failed).
    """
    from .engine import build_search, no_model_reason, run_search
    from .progress import SearchProgress

    config = SearchConfig(**settings)
    built = build_search(config)
    try:
        quiet = SearchProgress(stream=io.StringIO(), bars=False)  # the library says nothing unless asked
        summary = run_search(built, progress=SearchProgress(bars=None) if progress else quiet)
    finally:
        built.estimator.release_followers()
    outcome = summary["outcome"]
    if summary["chosen"] is None and outcome.stopped == "finished":
        raise RunFailure(no_model_reason(outcome.history))
    return SearchResult(
        study=summary["study"],
        storage=summary["storage"],
        stopped=summary["stopped"],
        trained=summary["trained"],
        chosen=summary["chosen"],
        path=summary["path"],
        trials=list(outcome.runs or outcome.history),
        config=built.ledger.config() or {},
    )


def load(study: str, storage: str | None = None) -> SearchResult:
    """A search read back from its ledger: finished, running elsewhere, or killed (what it had done so far)."""
    from .report import expansion_path, load_report
    from .runner import trained_count
    from .storage import check_existing_ledger, storage_url

    url = storage_url(storage)
    check_existing_ledger(url)
    report = load_report(url, study)
    chosen = report.ledger.attr("chosen")
    record = report.chosen()
    if record is not None and chosen is None:  # killed before its summary was stored: take it from the trials
        final = report.final_of(record)
        chosen = {
            "point": record.point.key,
            "gmacs": report.ledger.space.complexity(record.point).macs / 1e9,
            "params": report.ledger.space.complexity(record.point).params,
            "proxy_accuracy": record.accuracy,
            "final_accuracy": final.accuracy if final is not None else None,
        }
    return SearchResult(
        study=study,
        storage=url,
        stopped=_stopped(report),
        trained=trained_count(report.history),
        chosen=chosen,
        path=expansion_path(report.strategy, report.history),
        trials=list(report.runs),
        config=dict(report.config),
    )


def _stopped(report) -> str:
    """``finished`` when the strategy has nothing more to propose, else ``unfinished`` (killed, or stopped early)."""
    from .strategies.base import COMPLETE

    if report.strategy.terminates and not report.strategy.propose(report.history, 1):
        return "finished"
    budget = report.ledger.attr("budget")
    done = sum(1 for r in report.runs if r.state == COMPLETE)
    return "finished" if budget is not None and done >= budget else "unfinished"


def build_table(out: str, *, progress: bool = False, **settings: Any) -> dict[str, Any]:
    """Train a region of a space into the HDF5 benchmark file ``out`` (resumable), as ``nas bench build`` does.

    Keywords are :class:`~nas.tabular_build.BuildConfig`'s (``points``, ``seeds``, ``space``, ``data``,
    ``target_gflops``, ``epochs``, ``time_limit``, ...).  Returns
    ``{"path", "points", "runs_now", "stopped", "seconds"}``.
    """
    from .progress import SearchProgress
    from .tabular_build import BuildConfig
    from .tabular_build import build_table as build

    shown = SearchProgress(bars=None) if progress else SearchProgress(stream=io.StringIO(), bars=False)
    return build(BuildConfig(out=out, **settings), shown)


def compare(
    table: str | None = None,
    *,
    strategies: str = "coordinate,random",
    seeds: int = 20,
    budget: int | None = None,
    epsilon: float = 0.01,
    out: str | None = None,
    cost: str = "flops",
    target_ms: float | None = None,
    latency_threads: int = 1,
) -> dict[str, Any]:
    """Strategies x benchmark seeds on equal budgets against a table (default: the one installed with nas).

    Returns ``{"rows": [...], "budgets", "predictor", ...}``; ``out``: a folder for compare.csv, compare.md
    and the plots (None writes nothing).
    """
    from .bench_compare import CompareConfig
    from .bench_compare import compare as run
    from .tables import default_table

    return run(
        CompareConfig(
            table=str(table or default_table()),
            strategies=strategies,
            seeds=seeds,
            budget=budget,
            epsilon=epsilon,
            out=out,
            cost=cost,
            target_ms=target_ms,
            latency_threads=latency_threads,
        )
    )
