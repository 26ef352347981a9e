"""Live progress of a search: a bar per training (epoch, clips/s, ETA) and a line per finished trial.

The search's ETA is a forecast, not an average: the seconds each trial took
are fitted against its cost (``seconds = a + b * cost``, in the search's unit: MACs or µs; so per-model
overhead counts), and applied to the cost of the trainings the strategy still plans.
On a terminal the bars redraw in place; elsewhere (logs, CI) only the
per-trial lines are written.  The lines are log records of ``nas.progress``
(see :mod:`nas.logs`); a stream given explicitly gets them printed instead.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

BAR_FORMAT = "{desc} {percentage:3.0f}%|{bar}| "
LOG = logging.getLogger("nas.progress")


def forecast_seconds(done: Sequence[tuple[int, float]], planned: Sequence[int]) -> float | None:
    """Seconds for ``planned`` costs given ``done`` (cost, seconds) pairs; None before any trial finished."""
    if not done:
        return None
    if len(done) == 1 or len({m for m, _ in done}) == 1:
        cost, seconds = done[-1]
        return sum(seconds * max(p, 1) / max(cost, 1) for p in planned) if len(done) == 1 else seconds * len(planned)
    n = len(done)
    mean_c = sum(m for m, _ in done) / n
    mean_s = sum(s for _, s in done) / n
    var = sum((m - mean_c) ** 2 for m, _ in done)
    slope = max(0.0, sum((m - mean_c) * (s - mean_s) for m, s in done) / var)
    intercept = max(0.0, mean_s - slope * mean_c)
    return sum(intercept + slope * p for p in planned)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class SearchProgress:
    """Receives the runner's events and shows them."""

    def __init__(self, stream: TextIO | None = None, *, bars: bool | None = None) -> None:
        self.printed = stream is not None  # an explicit stream: print to it; else log (the CLI shows INFO)
        self.stream = stream or sys.stderr
        self.bars = (self.stream.isatty() and LOG.isEnabledFor(logging.INFO)) if bars is None else bars
        self.done: list[tuple[int, float]] = []
        self.started = time.monotonic()
        self._bar: Any = None
        self._label = ""

    # -- events ------------------------------------------------------------------------
    def message(self, text: str) -> None:
        if not self.printed:
            LOG.info(text)
        elif self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def trial_started(self, index: int, total: int, label: str, planned_after: Sequence[int], cost: int) -> None:
        eta = forecast_seconds(self.done, [cost, *planned_after])
        self._label = f"[{index}/{total}] {label}"
        if self.bars:
            from tqdm import tqdm

            self._bar = tqdm(
                total=None,
                desc=self._label,
                unit="step",
                file=self.stream,
                leave=False,
                dynamic_ncols=True,
                bar_format=BAR_FORMAT,
            )
            self._search_eta = eta
            self._trial_start = time.monotonic()

    def on_step(self, report: Any) -> None:
        """Called after every training step (an :class:`estimators.training.StepReport`)."""
        if self._bar is None:
            return
        if report.total_steps and self._bar.total != report.total_steps:
            self._bar.total = report.total_steps
        self._bar.n = report.step
        left = (report.total_steps - report.step) * report.seconds / max(report.step, 1) if report.total_steps else None
        search_left = (
            None if self._search_eta is None else max(0.0, self._search_eta - (time.monotonic() - self._trial_start))
        )
        text = (
            f"epoch {report.epoch + 1}, {report.clips_per_second:.0f} clips/s, loss {report.loss:.2f}, "
            f"ETA {format_duration(left)} (search {format_duration(search_left)})"
        )
        self._bar.bar_format = BAR_FORMAT + text.replace("{", "{{").replace("}", "}}")
        self._bar.refresh()

    def trial_finished(self, cost: int, seconds: float, outcome: str, planned_after: Sequence[int]) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self.done.append((cost, seconds))
        eta = forecast_seconds(self.done, planned_after)
        elapsed = time.monotonic() - self.started
        self.message(
            f"{self._label}: {outcome}  ({seconds:.0f} s; elapsed {format_duration(elapsed)}, "
            f"search ETA {format_duration(eta) if planned_after else '0:00'})"
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
