"""Does the coordinate search find a better network than random search given the same budget?

Runs the main job (``nas search --space x3d --strategy coordinate``, final
training included) and random search with the same number of trained models
as the coordinate search of the same seed actually trained (its plan plus the
tie rule's extra seeds), each under several seeds, one search at a time, into
one ledger.  It writes, per run, the
chosen point, its compute, its proxy and final top-1, and per strategy the
mean and standard error of the mean (SEM) of the final top-1, and Welch's
t-test between the two.

Every finished run is written to the results file as soon as it ends, and each
search is resumable (the ledger is kept), so a killed or time-limited
benchmark re-run goes on where it stopped, and nothing finished is redone.

    python -m benchmarks.bench_vs_random [--seeds 0,1,2] [--strategies coordinate,random]
        [--storage URL] [--time-limit T] [--quick] [--json]
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from . import results_page
from .bench_stability import run_seed
from .harness import cpu, emit_json, machine, parse_args

RESULTS = Path(__file__).parent / "results" / "vs_random.json"
#: How a search that did all its work stops: coordinate plans its own end, open-ended strategies stop at their budget.
DONE = ("finished", "budget")


def _options(parser) -> None:
    parser.add_argument("--seeds", default="0,1,2", help="search seeds, comma-separated (default 0,1,2)")
    parser.add_argument(
        "--strategies", default="coordinate,random", help="strategies compared (default coordinate,random)"
    )
    parser.add_argument(
        "--storage",
        default="sqlite:///benchmarks/results/vs_random.db",
        help="the ledger every search goes into (kept, so a re-run resumes)",
    )
    parser.add_argument(
        "--time-limit",
        metavar="SECONDS",
        type=float,
        help="stop starting trainings after this many seconds in all; re-run to go on",
    )
    parser.add_argument("--out", default=str(RESULTS), help=f"where the figures go (default {RESULTS})")


def search_command(
    strategy: str, seed: int, storage: str, *, quick: bool, time_limit: float | None, budget: int | None = None
) -> list[str]:
    """The ``nas search`` command line of one run: the main job with another strategy, seed and budget."""
    command = [
        sys.executable,
        "-m",
        "nas",
        "search",
        "--space",
        "x3d",
        "--strategy",
        strategy,
        "--seed",
        str(seed),
        "--storage",
        storage,
        "--json",
    ] + (["--budget", str(budget)] if budget else [])
    if quick:  # a tiny cache and one epoch: checks the plumbing, measures nothing
        command += ["--data", "synth:clips_per_class=12,frames=24,size=32", "--epochs", "1", "--final-epochs", "1"]
    if time_limit is not None:
        command += ["--time-limit", str(max(1, int(time_limit)))]
    return command


def equal_budget(runs: list[dict[str, Any]], strategy: str, seed: int, reference: str) -> int | None:
    """The trainings ``strategy`` gets under ``seed``: as many as ``reference`` (coordinate) trained under it.

    None for the reference itself (it plans its own end); 0 while the reference has not finished the seed.
    """
    if strategy == reference:
        return None
    done = [r["trained"] for r in runs if r["strategy"] == reference and r["seed"] == seed]
    return done[0] if done else 0


def run_record(strategy: str, seed: int, summary: dict[str, Any]) -> dict[str, Any]:
    """What the figures keep of one search's summary."""
    chosen = summary.get("chosen") or {}
    return {
        "strategy": strategy,
        "seed": seed,
        "stopped": summary["stopped"],
        "study": summary["study"],
        "trained": summary["trained"],
        "wall_seconds": summary["wall_seconds"],
        "chosen": chosen.get("point"),
        "gmacs": chosen.get("gmacs"),
        "proxy_accuracy": chosen.get("proxy_accuracy"),
        "final_accuracy": chosen.get("final_accuracy"),
        "date": date.today().isoformat(),
        "cpu": cpu(),
    }  # runs resumed on other days can run on other hosts


def mean_sem(values: Sequence[float]) -> dict[str, Any]:
    """Mean and standard error of the mean (None where fewer than two values)."""
    if not values:
        return {"n": 0, "mean": None, "sem": None}
    sem = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else None
    return {"n": len(values), "mean": statistics.fmean(values), "sem": sem}


def welch_p(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided Welch's t-test p-value of two strategies' final top-1 (None when it cannot be computed)."""
    if len(a) < 2 or len(b) < 2 or (statistics.pvariance(a) == 0 and statistics.pvariance(b) == 0):
        return None
    from scipy.stats import ttest_ind

    return float(ttest_ind(a, b, equal_var=False).pvalue)


def summarise(runs: Sequence[dict[str, Any]], strategies: Sequence[str]) -> dict[str, Any]:
    """Per strategy, the final top-1 over the finished runs; the test between the first two strategies."""
    finals = {
        s: [r["final_accuracy"] for r in runs if r["strategy"] == s and r["final_accuracy"] is not None]
        for s in strategies
    }
    summary = {
        s: {
            **mean_sem(finals[s]),
            "gmacs": mean_sem([r["gmacs"] for r in runs if r["strategy"] == s and r["gmacs"] is not None]),
        }
        for s in strategies
    }
    if len(strategies) >= 2:
        summary["welch_p"] = welch_p(finals[strategies[0]], finals[strategies[1]])
    return summary


def plot(runs: Sequence[dict[str, Any]], strategies: Sequence[str], path: Path) -> None:
    """Final top-1 of every run, one column per strategy, with its mean ± SEM."""
    from nas.plots import pyplot

    plt = pyplot()
    figure, axes = plt.subplots(figsize=(4.5, 3.5))
    for column, strategy in enumerate(strategies):
        finals = [r["final_accuracy"] for r in runs if r["strategy"] == strategy and r["final_accuracy"] is not None]
        axes.scatter([column] * len(finals), finals, alpha=0.7)
        stats = mean_sem(finals)
        if stats["mean"] is not None:
            axes.errorbar([column + 0.15], [stats["mean"]], yerr=[stats["sem"] or 0], fmt="_k", capsize=4)
    axes.set_xticks(range(len(strategies)), strategies)
    axes.set_xlim(-0.5, len(strategies) - 0.5)
    axes.set_ylabel("final top-1 of the chosen model")
    axes.set_title("final top-1 of each seed's chosen model (bar: mean ± SEM)", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(__doc__.splitlines()[0], argv, _options)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    if not seeds or not strategies:
        raise SystemExit("bench_vs_random: --seeds and --strategies each need at least one value, e.g. 0,1,2")
    out = Path(args.out).with_suffix(".quick.json") if args.quick else Path(args.out)
    storage = "sqlite:///" + str(out.with_suffix(".db")) if args.quick else args.storage
    previous = json.loads(out.read_text()) if out.exists() else {}
    runs = [r for r in previous.get("runs", []) if r["stopped"] in DONE]
    deadline = time.monotonic() + args.time_limit if args.time_limit is not None else None
    for seed in seeds:  # seeds outermost: an early stop leaves every strategy with the same seeds done
        for strategy in strategies:
            budget = equal_budget(runs, strategy, seed, strategies[0])
            if budget == 0:
                continue  # the reference strategy has not finished this seed: nothing to be equal to
            if any(
                r["strategy"] == strategy and r["seed"] == seed and (budget is None or r["trained"] >= budget)
                for r in runs
            ):
                continue
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left < 60:
                break
            runs = [r for r in runs if not (r["strategy"] == strategy and r["seed"] == seed)]  # resumed to more
            command = search_command(strategy, seed, storage, quick=args.quick, time_limit=left, budget=budget)
            print(f"{strategy} seed {seed}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
            record = run_record(strategy, seed, run_seed(command))
            print(
                f"{strategy} seed {seed}: chosen {record['chosen']} ({record['gmacs'] or 0:.4f} GMACs), "
                f"final top-1 {record['final_accuracy']}, {record['stopped']}, {record['wall_seconds']:.0f} s",
                file=sys.stderr,
                flush=True,
            )
            if record["stopped"] in DONE:
                runs.append(record)
                done = _figures(args, argv, runs, strategies)
                results_page.write_figures(out, done, markdown(done))
    figures = _figures(args, argv, runs, strategies)
    results_page.write_figures(out, figures, markdown(figures))
    if not args.quick:
        plot(runs, strategies, out.with_suffix(".png"))
    for strategy in strategies:
        stats = figures["summary"][strategy]
        if stats["mean"] is not None:
            print(
                f"{strategy}: final top-1 {stats['mean']:.3f} ± {stats['sem'] or 0:.3f} (SEM) over {stats['n']} seeds"
            )
    print(f"Welch p = {figures['summary'].get('welch_p')}; wrote {out}")
    if args.json:
        emit_json(figures)
    return figures


def _figures(args, argv, runs, strategies) -> dict[str, Any]:
    return {
        "benchmark": "vs_random",
        "date": date.today().isoformat(),
        "machine": machine(),
        "command": "python -m benchmarks.bench_vs_random " + " ".join(argv if argv is not None else sys.argv[1:]),
        "search": "nas search --space x3d --strategy S --seed N [--budget: what coordinate trained under seed N]",
        "runs": sorted(runs, key=lambda r: (r["strategy"], r["seed"])),
        "summary": summarise(runs, strategies),
    }


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def markdown(figures: dict[str, Any]) -> str:
    """The results page: every run (chosen point, trainings, final top-1) and each strategy's mean ± SEM."""
    runs = [
        (
            r["strategy"],
            r["seed"],
            r["trained"],
            f"`{r['chosen']}`",
            f"{r['gmacs'] or 0:.4f}",
            _percent(r["proxy_accuracy"]),
            f"**{_percent(r['final_accuracy'])}**",
            r.get("date", "?"),
            f"{r['wall_seconds'] / 60:.1f}",
        )
        for r in figures["runs"]
    ]
    summary = figures["summary"]
    means = [
        (strategy, stats["n"], _percent(stats["mean"]), _percent(stats["sem"]))
        for strategy, stats in summary.items()
        if isinstance(stats, dict)
    ]
    welch = summary.get("welch_p")
    return "\n".join(
        [
            results_page.header("Does coordinate expansion beat random search on the same budget?", figures),
            f"Each run: `{figures['search']}`; the final top-1 is after the chosen model's final training.",
            "",
            results_page.table(
                ["strategy", "seed", "trainings", "chosen", "GMACs", "proxy top-1", "final top-1", "date", "minutes"],
                runs,
            ),
            "",
            results_page.table(["strategy", "seeds", "final top-1, mean", "SEM"], means),
            "",
            f"Welch's t-test between the two: p = {welch:.3g}."
            if welch is not None
            else "Welch's t-test: not yet (it needs two finished seeds of each).",
            "",
            "![Final top-1 of each seed's chosen model, by strategy](vs_random.png)",
        ]
    )


if __name__ == "__main__":
    main()
