"""Decode/render and encode videos in worker processes; store them from the parent.

Workers are *spawned*, never forked: a forked child inherits PyAV's and
LMDB's state (a reformatter used before fork deadlocks in the child), and a
spawned one starts clean.  Only the parent writes, so the LMDB environment
has one writer; at most ``2 x workers`` videos are in flight, so memory stays
bounded however large the source.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import sys
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from .codecs import get_codec
from .errors import CacheFailure
from .writer import CacheWriter


@dataclass(frozen=True)
class Job:
    """One video to store: where its frames come from (a file, or the synthetic generator)."""

    video_id: str
    label: int
    split: str
    source: str  # "file", or a synthetic generator's name ("synth", "synth-image")
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class PipelineReport:
    stored: int = 0
    already: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _frames_of(job: Job):
    if job.source == "file":
        from .video import decode_video

        return decode_video(job.args["path"], fps=job.args["fps"], short_side=job.args["short_side"])
    from .generators import get_generator

    generator = get_generator(job.source)
    return generator.render(generator.settings_type()(**job.args["settings"]), job.label, job.args["index"])


def run_job(job: Job, codec: str, fps: float) -> tuple[Job, bytes | None, tuple[int, int, int] | None, str | None]:
    """Produce and encode one video; a bad video returns its reason instead of raising."""
    from .video import VideoError

    try:
        frames = _frames_of(job)
    except VideoError as error:
        return job, None, None, str(error)
    return job, get_codec(codec).encode(frames, fps), tuple(frames.shape[:3]), None


def _progress(total: int, description: str):
    from tqdm import tqdm

    return tqdm(
        total=total, desc=description, unit="video", file=sys.stderr, disable=None, mininterval=0.5, smoothing=0.1
    )


def run_pipeline(
    writer: CacheWriter, jobs: Sequence[Job], *, codec: str, fps: float, workers: int, description: str
) -> PipelineReport:
    """Store every job not yet in the cache; skipped videos are recorded with their reason."""
    report = PipelineReport()
    todo = [job for job in jobs if not writer.has(job.video_id)]
    report.already = len(jobs) - len(todo)
    bar = _progress(len(todo), description)

    def store(result) -> None:
        job, encoded, shape, reason = result
        if reason is None:
            writer.add(job.video_id, job.label, job.split, encoded=encoded, shape=shape)
            report.stored += 1
        else:
            writer.skip(job.video_id, reason)
            report.skipped.append((job.video_id, reason))
        bar.update(1)

    try:
        if workers <= 1:
            for job in todo:
                store(run_job(job, codec, fps))
        else:
            _run_parallel(todo, codec, fps, workers, store)
    finally:
        bar.close()
    return report


def _run_parallel(jobs: Iterable[Job], codec: str, fps: float, workers: int, store) -> None:
    """Decode or render the jobs in spawned processes; a pool that dies becomes one line saying why it can."""
    from concurrent.futures.process import BrokenProcessPool

    try:
        _run_in_pool(jobs, codec, fps, workers, store)
    except BrokenProcessPool:
        raise CacheFailure(
            f"the {workers} worker processes building the clip cache stopped abruptly (killed, out of memory, or "
            "started from a script without an 'if __name__ == \"__main__\":' guard: spawned workers import the "
            "script that started them); what was stored is kept: fix the cause and run it again to resume"
        ) from None


def _run_in_pool(jobs: Iterable[Job], codec: str, fps: float, workers: int, store) -> None:
    context = multiprocessing.get_context("spawn")
    jobs = iter(jobs)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: set[Future] = set()
        with _workers_ignore_interrupts():  # the pool starts its processes on the first submissions
            pending.update(pool.submit(run_job, job, codec, fps) for job in itertools.islice(jobs, workers))
        for job in jobs:
            if len(pending) >= 2 * workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    store(future.result())
            pending.add(pool.submit(run_job, job, codec, fps))
        for future in pending:
            store(future.result())


@contextlib.contextmanager
def _workers_ignore_interrupts() -> Iterator[None]:
    """Start worker processes with Ctrl-C ignored: only this process answers it, and stops them in order.

    An ignored signal stays ignored across the workers' ``exec`` (Python keeps
    it so), so a Ctrl-C to the whole terminal group leaves no worker tracebacks,
    and none lands while a worker reads its start-up data from this process.
    A Ctrl-C during these few milliseconds of start-up is dropped.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
