"""A benchmark's results page: Markdown beside its JSON, with the command, the date and the machine.

Each benchmark writes its figures as a page (``benchmarks/results/NAME.md``) the documentation site shows; a
person's reading of them goes below :data:`NOTES_MARKER` and survives the benchmark rewriting the figures.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

#: Everything below this line of a results Markdown file is a person's reading of the figures; the benchmark keeps
#: it when it rewrites the figures above.
NOTES_MARKER = "<!-- notes: everything below is kept when the benchmark rewrites this file -->"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (cells as given; pipes escaped)."""

    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(map(cell, headers)) + " |", "|" + "---|" * len(headers)]
    return "\n".join(lines + ["| " + " | ".join(map(cell, row)) + " |" for row in rows])


def header(title: str, figures: dict[str, Any]) -> str:
    """A results page's title and where its figures come from: the command, the date and the machine."""
    where = figures.get("machine") or {}
    cpu_model = (where.get("cpu") or {}).get("model") or "CPU model not recorded"
    host = (
        f"{where.get('cpu_count', '?')} cores ({cpu_model}), Python {where.get('python', '?')}, "
        f"torch {where.get('torch', '?')}"
    )
    return "\n".join(
        [
            f"# {title}",
            "",
            f"- command: `{figures.get('command', '?')}`",
            f"- date: {figures.get('date', '?')}",
            f"- machine: {host}",
            "",
        ]
    )


def write(path: "os.PathLike[str] | str", generated: str) -> None:
    """Write a benchmark's Markdown page atomically, keeping the notes a person wrote below :data:`NOTES_MARKER`."""
    from pathlib import Path

    path = Path(path)
    notes = ""
    if path.is_file() and NOTES_MARKER in (old := path.read_text()):
        notes = old.split(NOTES_MARKER, 1)[1]
    partial = path.with_suffix(".md.partial")
    partial.write_text(generated.rstrip() + "\n\n" + NOTES_MARKER + (notes if notes else "\n"))
    partial.replace(path)


def write_figures(path: "os.PathLike[str] | str", figures: dict[str, Any], page: str) -> None:
    """Write a benchmark's JSON figures through a temporary file (a kill never leaves half of it), then its page."""
    import json
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")
    partial.replace(path)
    write(path.with_suffix(".md"), page)
