"""What every ``python -m benchmarks.bench_NAME`` shares: flags, timing, the JSON line."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from typing import Any


def parse_args(description: str, argv: Sequence[str] | None = None, extra: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
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


#: Everything below this line of a results Markdown file is a person's reading of the figures; the benchmark keeps
#: it when it rewrites the figures above.
NOTES_MARKER = "<!-- notes: everything below is kept when the benchmark rewrites this file -->"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (cells as given; pipes escaped)."""
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(map(cell, headers)) + " |", "|" + "---|" * len(headers)]
    return "\n".join(lines + ["| " + " | ".join(map(cell, row)) + " |" for row in rows])


def markdown_header(title: str, figures: dict[str, Any]) -> str:
    """A results page's title and where its figures come from: the command, the date and the machine."""
    where = figures.get("machine") or {}
    cpu_model = (where.get("cpu") or {}).get("model") or "CPU model not recorded"
    host = (f"{where.get('cpu_count', '?')} cores ({cpu_model}), Python {where.get('python', '?')}, "
            f"torch {where.get('torch', '?')}")
    return "\n".join([f"# {title}", "", f"- command: `{figures.get('command', '?')}`", f"- date: {figures.get('date', '?')}",
                      f"- machine: {host}", ""])


def write_markdown(path: "os.PathLike[str] | str", generated: str) -> None:
    """Write a benchmark's Markdown page atomically, keeping the notes a person wrote below :data:`NOTES_MARKER`."""
    from pathlib import Path

    path = Path(path)
    notes = ""
    if path.is_file() and NOTES_MARKER in (old := path.read_text()):
        notes = old.split(NOTES_MARKER, 1)[1]
    partial = path.with_suffix(".md.partial")
    partial.write_text(generated.rstrip() + "\n\n" + NOTES_MARKER + (notes if notes else "\n"))
    partial.replace(path)
