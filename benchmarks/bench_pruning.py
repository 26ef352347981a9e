"""Live multi-fidelity searches on the default data: which trainings a pruner stops, at which epoch, and at what cost.

Runs ``nas search --space x3d --strategy S`` for pruning strategies (default
``hyperband`` and ``coordinate-sh``), one search at a time into one ledger,
then reads each study's trials straight from the ledger (Optuna's own API,
not the toolkit's report): how many trainings finished, how many a pruner
stopped and after which epoch, and the seconds each one trained.  It checks
that ``nas report`` counts the same train time as the ledger holds, and
estimates what the same trainings would have cost unpruned (a pruned
training's seconds scaled from the epochs it ran to the proxy's epochs: the
epochs of one model cost about the same).

Every finished search is written to the results file as soon as it ends, and
each search is resumable (the ledger is kept), so a killed or time-limited
run goes on where it stopped.

    python -m benchmarks.bench_pruning [--strategies hyperband,coordinate-sh] [--seeds 0]
        [--budget N] [--storage URL] [--time-limit T] [--quick] [--json]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from . import results_page
from .bench_stability import run_seed
from .bench_vs_random import DONE, run_record, search_command
from .harness import emit_json, machine, parse_args

RESULTS = Path(__file__).parent / "results" / "pruning.json"


def _options(parser) -> None:
    parser.add_argument(
        "--strategies",
        default="hyperband,coordinate-sh",
        help="pruning strategies run (default hyperband,coordinate-sh)",
    )
    parser.add_argument("--seeds", default="0", help="search seeds, comma-separated (default 0)")
    parser.add_argument("--budget", type=int, help="trained models of an open-ended strategy (default: nas search's)")
    parser.add_argument(
        "--storage",
        default="sqlite:///benchmarks/results/pruning.db",
        help="the ledger every search goes into (kept, so a re-run resumes)",
    )
    parser.add_argument(
        "--time-limit",
        metavar="SECONDS",
        type=float,
        help="stop starting trainings after this many seconds in all; re-run to go on",
    )
    parser.add_argument("--out", default=str(RESULTS), help=f"where the figures go (default {RESULTS})")


def ledger_costs(storage: str, study: str) -> dict[str, Any]:
    """What the ledger holds of one study's trainings, read with Optuna alone: counts, epochs and seconds."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    states = optuna.trial.TrialState
    trials = optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=False)
    ended = [t for t in trials if t.state in (states.COMPLETE, states.PRUNED)]
    search = [t for t in ended if t.user_attrs.get("role") != "final"]
    finals = [t for t in ended if t.user_attrs.get("role") == "final"]
    complete = [t for t in search if t.state == states.COMPLETE]
    pruned = [t for t in search if t.state == states.PRUNED]
    full_epochs = max((float(t.user_attrs.get("fidelity", 0)) for t in complete), default=0.0)

    def seconds(group: Sequence[Any]) -> float:
        return sum(float(t.user_attrs.get("train_seconds", 0.0)) for t in group)

    unpruned = seconds(complete) + sum(
        float(t.user_attrs["train_seconds"]) * full_epochs / int(t.user_attrs["pruned_at_epoch"]) for t in pruned
    )
    return {
        "complete": len(complete),
        "pruned": len(pruned),
        "proxy_epochs": full_epochs,
        "pruned_at_epoch": {
            str(k): v for k, v in sorted(Counter(int(t.user_attrs["pruned_at_epoch"]) for t in pruned).items())
        },
        "reported_every_epoch": all(len(t.intermediate_values) >= 1 for t in search),
        "search_train_seconds": round(seconds(search), 1),
        "pruned_train_seconds": round(seconds(pruned), 1),
        "final_train_seconds": round(seconds(finals), 1),
        "unpruned_train_seconds_estimate": round(unpruned, 1),
        "cost_share": round(seconds(search) / unpruned, 3) if unpruned else None,
        "ledger_train_time": _minutes(seconds(search) + seconds(finals)),
    }


def report_train_time(storage: str, study: str) -> str:
    """The train time ``nas report`` gives the study (search and final trainings), as it prints it."""
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run(
            [sys.executable, "-m", "nas", "report", "--storage", storage, "--study", study, "--out", folder, "--json"],
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )
    (row,) = json.loads(done.stdout.strip().splitlines()[-1])["comparison"]
    return row["train time"]


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def pruning_command(
    strategy: str, seed: int, storage: str, *, quick: bool, time_limit: float | None, budget: int | None
) -> list[str]:
    """The main job with a pruning strategy; ``--quick``'s tiny proxy gets 2 epochs (pruning needs a rung)."""
    command = search_command(strategy, seed, storage, quick=quick, time_limit=time_limit, budget=budget)
    if quick:
        command[command.index("--epochs") + 1] = "2"
    return command


def measure(strategy: str, seed: int, storage: str, summary: dict[str, Any]) -> dict[str, Any]:
    """One finished search's record: what it chose, what its ledger holds, and whether the report agrees."""
    costs = ledger_costs(storage, summary["study"])
    report = report_train_time(storage, summary["study"])
    return {
        **run_record(strategy, seed, summary),
        **costs,
        "report_train_time": report,
        "report_matches_ledger": report == costs["ledger_train_time"],
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(__doc__.splitlines()[0], argv, _options)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    if not seeds or not strategies:
        raise SystemExit("bench_pruning: --seeds and --strategies each need at least one value, e.g. 0,1")
    out = Path(args.out).with_suffix(".quick.json") if args.quick else Path(args.out)
    storage = "sqlite:///" + str(out.with_suffix(".db")) if args.quick else args.storage
    previous = json.loads(out.read_text()) if out.exists() else {}
    runs = [r for r in previous.get("runs", []) if r["stopped"] in DONE]
    deadline = time.monotonic() + args.time_limit if args.time_limit is not None else None
    for seed in seeds:
        for strategy in strategies:
            if any(r["strategy"] == strategy and r["seed"] == seed for r in runs):
                continue
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left < 60:
                break
            command = pruning_command(strategy, seed, storage, quick=args.quick, time_limit=left, budget=args.budget)
            print(f"{strategy} seed {seed}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
            summary = run_seed(command)
            if summary["stopped"] not in DONE:
                continue  # stopped by the time limit: the ledger keeps it, a re-run goes on
            record = measure(strategy, seed, storage, summary)
            print(
                f"{strategy} seed {seed}: {record['complete']} trained to the end, {record['pruned']} pruned "
                f"{record['pruned_at_epoch']}, {record['search_train_seconds']:.0f} s of training "
                f"({record['cost_share']} of unpruned), report {record['report_train_time']}",
                file=sys.stderr,
                flush=True,
            )
            runs.append(record)
            results_page.write_figures(out, _figures(argv, runs), markdown(_figures(argv, runs)))
    figures = _figures(argv, runs)
    results_page.write_figures(out, figures, markdown(figures))
    print(f"wrote {out}")
    if args.json:
        emit_json(figures)
    return figures


def _figures(argv, runs) -> dict[str, Any]:
    return {
        "benchmark": "pruning",
        "date": date.today().isoformat(),
        "machine": machine(),
        "command": "python -m benchmarks.bench_pruning " + " ".join(argv if argv is not None else sys.argv[1:]),
        "search": "nas search --space x3d --strategy S --seed N",
        "runs": sorted(runs, key=lambda r: (r["strategy"], r["seed"])),
    }


def markdown(figures: dict[str, Any]) -> str:
    """The results page: per search, its trainings finished and pruned, their seconds, and the report's sum."""

    def percent(value: float | None) -> str:
        return "–" if value is None else f"{100 * value:.1f} %"

    rows = [
        (
            r["strategy"],
            r["seed"],
            r["complete"],
            r["pruned"],
            ", ".join(f"{n} after epoch {e}" for e, n in r["pruned_at_epoch"].items()) or "–",
            f"{r['search_train_seconds']:.0f}",
            f"{r['unpruned_train_seconds_estimate']:.0f}",
            f"{r['cost_share']:.2f}" if r["cost_share"] is not None else "–",
            r["ledger_train_time"],
            r["report_train_time"],
            f"`{r['chosen']}`",
            percent(r["proxy_accuracy"]),
            percent(r["final_accuracy"]),
            r.get("date", "?"),
        )
        for r in figures["runs"]
    ]
    headers = (
        "strategy",
        "seed",
        "trained to the end",
        "pruned",
        "pruned when",
        "search train s",
        "unpruned s (estimate)",
        "share",
        "ledger train time",
        "`nas report` train time",
        "chosen",
        "proxy top-1",
        "final top-1",
        "date",
    )
    return "\n".join(
        [
            results_page.header("Pruning in live searches on the default data", figures),
            f"Each search: `{figures['search']}`. Train times include the final training; the "
            "unpruned estimate scales each pruned training's seconds from its epochs to the proxy's.",
            "",
            results_page.table(headers, rows),
        ]
    )


if __name__ == "__main__":
    main()
