"""Does the default coordinate search take the same path under other seeds?

Runs ``nas search --space x3d --strategy coordinate --final-epochs 0`` (the
main job without the chosen model's final training) under several seeds, one
after the other, into one ledger, and writes, per seed, the path (the axis of
each step, with its margin, noise and tie outcome) and the chosen point, and
``same_path``: the share of seeds whose path equals the most common one.

The seeds differ in every training's initial weights and data order, so a
step decided by noise shows up as a different path.  Each search is resumable
(the ledger is kept), so a killed benchmark re-run goes on where it stopped,
and a seed already searched into the same ledger costs nothing.

    python -m benchmarks.bench_stability [--seeds 0,1,2] [--storage URL] [--time-limit T] [--quick] [--json]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from . import results_page
from .harness import emit_json, machine, parse_args

RESULTS = Path(__file__).parent / "results" / "stability.json"


def _options(parser) -> None:
    parser.add_argument("--seeds", default="0,1,2", help="search seeds, comma-separated (default 0,1,2)")
    parser.add_argument(
        "--storage",
        default="sqlite:///benchmarks/results/stability.db",
        help="the ledger every seed's search goes into (kept, so a re-run resumes)",
    )
    parser.add_argument("--time-limit", metavar="T", help="stop starting trainings after T per seed; re-run to go on")
    parser.add_argument("--out", default=str(RESULTS), help=f"where the figures go (default {RESULTS})")
    parser.add_argument("--extra", default="", help="more 'nas search' arguments, e.g. '--tie-rule cheaper'")


def search_command(seed: int, storage: str, *, quick: bool, time_limit: str | None, extra: str) -> list[str]:
    """The ``nas search`` command line of one seed: the main job, without its final training."""
    command = [
        sys.executable,
        "-m",
        "nas",
        "search",
        "--space",
        "x3d",
        "--strategy",
        "coordinate",
        "--final-epochs",
        "0",
        "--seed",
        str(seed),
        "--storage",
        storage,
        "--json",
    ]
    if quick:  # a tiny cache and one epoch: checks the plumbing, measures nothing
        command += ["--data", "synth:clips_per_class=12,frames=24,size=32", "--epochs", "1"]
    if time_limit:
        command += ["--time-limit", time_limit]
    return command + extra.split()


def run_seed(command: Sequence[str]) -> dict[str, Any]:
    """One search; its summary (the JSON line ``nas search --json`` ends with)."""
    started = time.monotonic()
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    if done.returncode != 0:
        raise SystemExit(f"bench_stability: '{' '.join(command)}' exited {done.returncode}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    summary["wall_seconds"] = round(time.monotonic() - started, 1)
    return summary


def path_of(summary: dict[str, Any]) -> list[str]:
    """The axis of every step of a search's path (the base and the contraction left out)."""
    return [step["operation"] for step in summary["path"] if step["role"] in ("expansion", "overshoot")]


def step_notes(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Per decided step: its axis, margin over the runner-up, the noise of that margin and what the tie rule did."""
    notes = []
    for step in summary["path"]:
        decision = step.get("decision")
        if step["role"] in ("expansion", "overshoot") and decision is not None:
            notes.append({"step": step["step"], "axis": step["operation"], **decision})
    return notes


def same_path_share(paths: Sequence[Sequence[str]]) -> float:
    """The share of seeds whose path equals the most common path."""
    counts = Counter(tuple(p) for p in paths)
    return max(counts.values()) / len(paths) if paths else 0.0


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(__doc__.splitlines()[0], argv, _options)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    if len(seeds) < 1:
        raise SystemExit("bench_stability: --seeds needs at least one seed, e.g. 0,1,2")
    storage = "sqlite:///" + str(Path(args.out).with_suffix(".quick.db")) if args.quick else args.storage
    runs = []
    for seed in seeds:
        command = search_command(seed, storage, quick=args.quick, time_limit=args.time_limit, extra=args.extra)
        print(f"seed {seed}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
        summary = run_seed(command)
        runs.append(
            {
                "seed": seed,
                "stopped": summary["stopped"],
                "path": path_of(summary),
                "steps": step_notes(summary),
                "chosen": (summary["chosen"] or {}).get("point"),
                "trained": summary["trained"],
                "wall_seconds": summary["wall_seconds"],
                "study": summary["study"],
            }
        )
    finished = [r for r in runs if r["stopped"] == "finished"]
    figures = {
        "benchmark": "stability",
        "date": date.today().isoformat(),
        "machine": machine(),
        "command": "python -m benchmarks.bench_stability " + " ".join(argv if argv is not None else sys.argv[1:]),
        "search": "nas search --space x3d --strategy coordinate --final-epochs 0 --seed S",
        "seeds": runs,
        "finished": len(finished),
        "same_path": same_path_share([r["path"] for r in finished]),
        "ties": sum(1 for r in finished for s in r["steps"] if s["tie"]),
        "steps": sum(len(r["steps"]) for r in finished),
    }
    for run in runs:
        print(
            f"seed {run['seed']}: path {' > '.join(run['path'])}; chosen {run['chosen']} ({run['stopped']}, "
            f"{run['trained']} trained, {run['wall_seconds']:.0f} s)"
        )
    print(
        f"same path: {figures['same_path']:.2f} of {len(finished)} finished seeds; "
        f"{figures['ties']} of {figures['steps']} steps were ties"
    )
    if not args.quick:
        Path(args.out).write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")
        results_page.write(Path(args.out).with_suffix(".md"), markdown(figures))
        print(f"wrote {args.out} and its .md")
    if args.json:
        emit_json(figures)
    return figures


def _decision(step: dict[str, Any]) -> str:
    sigmas = step["margin"] / step["noise"] if step.get("noise") else float("inf")
    text = f"{step['axis']} +{step['margin']:.3f} = {sigmas:.1f} SE"
    return f"**tie** {text} → {step['outcome']}" if step["tie"] else text


def markdown(figures: dict[str, Any]) -> str:
    """The results page: per seed the path, each step's margin in standard errors and tie outcome, the chosen point."""
    rows = [
        (
            run["seed"],
            " > ".join(run["path"]),
            "; ".join(_decision(step) for step in run["steps"]),
            f"`{run['chosen']}`",
            run["trained"],
            run["stopped"],
        )
        for run in figures["seeds"]
    ]
    return "\n".join(
        [
            results_page.header("Does the default search take the same path under other seeds?", figures),
            f"Each seed: `{figures['search']}`.",
            "",
            results_page.table(
                [
                    "seed",
                    "path",
                    "steps (margin over the runner-up, in standard errors of it)",
                    "chosen",
                    "trained",
                    "stopped",
                ],
                rows,
            ),
            "",
            f"**same_path = {figures['same_path']:.2f}** over {figures['finished']} finished seeds; "
            f"{figures['ties']} of {figures['steps']} steps were ties.",
        ]
    )


if __name__ == "__main__":
    main()
