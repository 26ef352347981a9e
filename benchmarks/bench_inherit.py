"""Do inherited weights find as good a network as training from scratch, for less search time?

Runs the main job (``nas search --space x3d --strategy coordinate``, final
training included, from scratch) under several seeds two ways: every
candidate from scratch, and with ``--inherit`` (each candidate starts from its
parent's trained weights, grown by the space's rules, and trains
``--inherit-epochs``, by default half the proxy's epochs).  Then it trains
every candidate either way met from scratch on a schedule ``--long-factor``
times the proxy's, and rank-correlates each way's candidate accuracies with
those.  It writes ``benchmarks/results/inherit.json`` with, per way,
``search_seconds`` (the summed training seconds of the search's proxy
trials, its final training left out), the paths, ``final_top1_mean``,
``final_top1_sem`` and ``kendall_tau_vs_long``.

Every finished search and every long training is written at once; the
searches are resumable (the ledger is kept), so a killed or time-limited
benchmark re-run goes on where it stopped.

    python -m benchmarks.bench_inherit [--seeds 0,1,2] [--inherit-epochs E] [--long-factor 4]
        [--storage URL] [--time-limit T] [--quick] [--json]
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from . import results_page
from .bench_fidelity import rank_correlations
from .bench_stability import path_of, run_seed
from .bench_vs_random import mean_sem
from .harness import emit_json, machine, parse_args

RESULTS = Path(__file__).parent / "results" / "inherit.json"
WAYS = ("scratch", "inherit")


def _options(parser) -> None:
    parser.add_argument("--seeds", default="0,1,2", help="search seeds, comma-separated (default 0,1,2)")
    parser.add_argument(
        "--inherit-epochs", type=float, help="epochs of an inherited candidate (default: half the proxy's)"
    )
    parser.add_argument(
        "--long-factor", type=float, default=4.0, help="the long schedule's epochs over the proxy's (default 4)"
    )
    parser.add_argument(
        "--storage",
        default="sqlite:///benchmarks/results/inherit.db",
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
    way: str, seed: int, storage: str, *, inherit_epochs: float, quick: bool, time_limit: float | None
) -> list[str]:
    """The ``nas search`` command line of one run: the main job, with ``--inherit`` for the inheriting way."""
    command = [
        sys.executable,
        "-m",
        "nas",
        "search",
        "--space",
        "x3d",
        "--strategy",
        "coordinate",
        "--seed",
        str(seed),
        "--storage",
        storage,
        "--json",
    ]
    if way == "inherit":
        command += ["--inherit", "--inherit-epochs", f"{inherit_epochs:g}"]
    if quick:  # a tiny cache, one epoch, no reseeded ties: checks the plumbing, measures nothing
        command += [
            "--data",
            "synth:clips_per_class=12,frames=24,size=32",
            "--epochs",
            "1",
            "--final-epochs",
            "1",
            "--tie-rule",
            "best",
        ]
    if time_limit is not None:
        command += ["--time-limit", str(max(1, int(time_limit)))]
    return command


def ledger_figures(storage: str, study: str) -> dict[str, Any]:
    """From a search's ledger: its proxy trials' summed training and trial seconds, and each candidate's step and
    (mean) top-1.

    Trial seconds run from a trial's start to its end: training, validation, the checkpoint's save and load and
    the weights' growth (what a user waits for), the final training left out.
    """
    import optuna

    from nas.ledger import open_study

    ledger = open_study(storage, study)
    records = ledger.records()  # the final training is left out
    accuracies: dict[str, list[float]] = {}
    steps: dict[str, int] = {}
    for record in records:
        if record.state == "complete":
            accuracies.setdefault(record.point.key, []).append(float(record.accuracy))
            steps.setdefault(record.point.key, int(record.attrs.get("step", 0)))
    trials = optuna.load_study(study_name=study, storage=storage).get_trials()
    spans = [
        (t.datetime_complete - t.datetime_start).total_seconds()
        for t in trials
        if t.user_attrs.get("role") != "final" and t.datetime_start and t.datetime_complete
    ]
    return {
        "search_seconds": round(sum(float(r.attrs.get("train_seconds", 0.0)) for r in records), 1),
        "trial_seconds": round(sum(spans), 1),
        "inherited": sum(1 for r in records if r.attrs.get("inherited")),
        "candidates": [
            {"point": key, "step": steps[key], "accuracy": sum(values) / len(values)}
            for key, values in sorted(accuracies.items())
        ],
    }


def run_record(way: str, seed: int, summary: dict[str, Any], storage: str) -> dict[str, Any]:
    """What the figures keep of one search."""
    chosen = summary.get("chosen") or {}
    return {
        "way": way,
        "seed": seed,
        "stopped": summary["stopped"],
        "study": summary["study"],
        "trained": summary["trained"],
        "wall_seconds": summary["wall_seconds"],
        "path": path_of(summary),
        "chosen": chosen.get("point"),
        "gmacs": chosen.get("gmacs"),
        "proxy_accuracy": chosen.get("proxy_accuracy"),
        "final_accuracy": chosen.get("final_accuracy"),
        **ledger_figures(storage, summary["study"]),
    }


def long_order(runs: Sequence[dict[str, Any]]) -> list[str]:
    """The candidates to train long: those most searches met first (each way's τ gains most from them)."""
    counts = Counter(c["point"] for run in runs for c in run["candidates"])
    return sorted(counts, key=lambda key: (-counts[key], key))


def _tau(pairs: Sequence[tuple[float, float]]) -> float | None:
    """Kendall's τ of (proxy, long) pairs; None where fewer than 3 or undefined (every value tied)."""
    if len(pairs) < 3:
        return None
    tau = rank_correlations([p for p, _ in pairs], [lo for _, lo in pairs])["kendall_tau"]
    return None if math.isnan(tau) else tau


def within_step_tau(run: dict[str, Any], long: dict[str, float | None]) -> list[float]:
    """τ among the candidates of each step of one search: the ranking the search acts on."""
    by_step: dict[int, list[tuple[float, float]]] = {}
    for candidate in run["candidates"]:
        if long.get(candidate["point"]) is not None and candidate["step"] > 0:
            by_step.setdefault(candidate["step"], []).append((candidate["accuracy"], long[candidate["point"]]))
    return [tau for pairs in by_step.values() if (tau := _tau(pairs)) is not None]


def way_figures(
    runs: Sequence[dict[str, Any]], long: dict[str, float | None], way: str, seeds: Sequence[int] | None = None
) -> dict[str, Any]:
    """One way's figures over its finished runs (only ``seeds``, where given: those both ways finished)."""
    mine = [r for r in runs if r["way"] == way and (seeds is None or r["seed"] in seeds)]
    proxy: dict[str, list[float]] = {}
    for run in mine:
        for candidate in run["candidates"]:
            proxy.setdefault(candidate["point"], []).append(candidate["accuracy"])
    paired = [(sum(v) / len(v), long[k]) for k, v in sorted(proxy.items()) if long.get(k) is not None]
    steps = [tau for run in mine for tau in within_step_tau(run, long)]
    final = mean_sem([r["final_accuracy"] for r in mine if r["final_accuracy"] is not None])
    seconds, trial_seconds = mean_sem([r["search_seconds"] for r in mine]), mean_sem([r["trial_seconds"] for r in mine])
    return {
        "seeds": [r["seed"] for r in mine],
        "paths": [r["path"] for r in mine],
        "chosen": [r["chosen"] for r in mine],
        "search_seconds": seconds["mean"],
        "search_seconds_sem": seconds["sem"],
        "search_seconds_per_seed": [r["search_seconds"] for r in mine],
        "trial_seconds": trial_seconds["mean"],
        "wall_seconds_per_seed": [r["wall_seconds"] for r in mine],
        "final_top1_mean": final["mean"],
        "final_top1_sem": final["sem"],
        "final_top1_per_seed": [r["final_accuracy"] for r in mine],
        "kendall_tau_vs_long": _tau(paired),
        "kendall_tau_within_steps": statistics.fmean(steps) if steps else None,
        "steps_with_tau": len(steps),
        "candidates": len(proxy),
        "candidates_with_long": len(paired),
    }


def _long_estimator(quick: bool, factor: float):
    """The default proxy from scratch (seed 0) at ``factor`` times its epochs, on the default data."""
    from estimators.proxy import ProxyAccuracy, ProxySchedule

    from .bench_fidelity import _setting

    space, cache, defaults = _setting(quick)
    epochs = (1.0 if quick else float(defaults["schedule"]["epochs"])) * factor
    return space, ProxyAccuracy(cache, ProxySchedule(**{**defaults["schedule"], "epochs": epochs, "seed": 0})), epochs


def train_long(figures: dict[str, Any], args, deadline: float | None, write) -> None:
    """Train every candidate met from scratch on the long schedule, each written as soon as it ends."""
    from estimators.proxy import CandidateFailed

    space, estimator, epochs = _long_estimator(args.quick, args.long_factor)
    if figures.get("long_fingerprint") != estimator.fingerprint():
        figures.update(long={}, long_fingerprint=estimator.fingerprint(), long_epochs=epochs)  # another setting
    long = figures["long"]
    order = [key for key in long_order(figures["runs"]) if key not in long]
    for index, key in enumerate(order):
        if deadline is not None and time.monotonic() >= deadline:
            break
        begun = time.monotonic()
        try:
            long[key] = float(estimator.evaluate(space, space.point(_point_dict(key)), epochs).metrics["accuracy"])
        except CandidateFailed:
            long[key] = None
        print(
            f"[long {index + 1}/{len(order)}] {epochs:g} epochs {key}: {long[key]} ({time.monotonic() - begun:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
        write()


def _point_dict(key: str) -> dict[str, float]:
    return {name: float(value) for name, value in (item.split("=") for item in key.split(","))}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(__doc__.splitlines()[0], argv, _options)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    if not seeds or not 1 < args.long_factor <= 100:
        raise SystemExit(
            "bench_inherit: --seeds needs at least one seed (e.g. 0,1,2) and --long-factor must be "
            f"above 1 (at most 100), got {args.long_factor}"
        )
    from nas.engine import proxy_defaults

    proxy_epochs = 1.0 if args.quick else float(proxy_defaults("x3d")["schedule"]["epochs"])
    inherit_epochs = args.inherit_epochs or proxy_epochs / 2
    out = Path(args.out).with_suffix(".quick.json") if args.quick else Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    storage = "sqlite:///" + str(out.with_suffix(".db")) if args.quick else args.storage
    figures = json.loads(out.read_text()) if out.exists() else {}
    if figures.get("inherit_epochs") != inherit_epochs:
        figures = {"inherit_epochs": inherit_epochs, "runs": []}  # another setting: start again rather than mix
    figures["runs"] = [r for r in figures["runs"] if r["stopped"] == "finished"]
    deadline = time.monotonic() + args.time_limit if args.time_limit is not None else None

    def write() -> None:
        figures.update(_figures(args, argv, figures, proxy_epochs))
        results_page.write_figures(out, figures, markdown(figures))

    for seed in seeds:  # seeds outermost; the figures compare only the seeds both ways finished
        for way in WAYS:
            if any(r["way"] == way and r["seed"] == seed for r in figures["runs"]):
                continue
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left < 60:
                break
            command = search_command(
                way, seed, storage, inherit_epochs=inherit_epochs, quick=args.quick, time_limit=left
            )
            print(f"{way} seed {seed}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
            record = run_record(way, seed, run_seed(command), storage)
            print(
                f"{way} seed {seed}: path {' > '.join(record['path'])}, final top-1 {record['final_accuracy']}, "
                f"{record['search_seconds']:.0f} s of training, {record['stopped']}",
                file=sys.stderr,
                flush=True,
            )
            if record["stopped"] == "finished":
                figures["runs"].append(record)
                write()
    train_long(figures, args, deadline, write)
    write()
    for way in WAYS:
        stats = figures["ways"][way]
        print(
            f"{way}: {len(stats['seeds'])} paired seeds, search {stats['search_seconds']} s of training, final "
            f"top-1 {stats['final_top1_mean']} ± {stats['final_top1_sem']}, tau within steps "
            f"{stats['kendall_tau_within_steps']}, over candidates {stats['kendall_tau_vs_long']} "
            f"({stats['candidates_with_long']} of {stats['candidates']} candidates trained long)"
        )
    print(f"wrote {out}")
    if args.json:
        emit_json(figures)
    return figures


def paired_seeds(runs: Sequence[dict[str, Any]]) -> list[int]:
    """The seeds every way finished: the comparison is made over these alone."""
    done = [{r["seed"] for r in runs if r["way"] == way} for way in WAYS]
    return sorted(set.intersection(*done))


def _figures(args, argv, figures: dict[str, Any], proxy_epochs: float) -> dict[str, Any]:
    seeds = paired_seeds(figures["runs"])
    long = figures.get("long", {})
    ways = {way: way_figures(figures["runs"], long, way, seeds) for way in WAYS}
    scratch, inherit = ways["scratch"], ways["inherit"]

    def ratio(key: str) -> float | None:
        return inherit[key] / scratch[key] if inherit[key] and scratch[key] else None

    shared = (
        sorted(
            set.intersection(
                *[
                    {
                        c["point"]
                        for r in figures["runs"]
                        if r["way"] == way and r["seed"] in seeds
                        for c in r["candidates"]
                    }
                    for way in WAYS
                ]
            )
        )
        if seeds
        else []
    )
    return {
        "benchmark": "inherit",
        "date": date.today().isoformat(),
        "machine": machine(),
        "command": "python -m benchmarks.bench_inherit " + " ".join(argv if argv is not None else sys.argv[1:]),
        "search": "nas search --space x3d --strategy coordinate --seed N [--inherit --inherit-epochs E]",
        "proxy_epochs": proxy_epochs,
        "paired_seeds": seeds,
        "ways": ways,
        "search_seconds_ratio": ratio("search_seconds"),
        "trial_seconds_ratio": ratio("trial_seconds"),
        "shared_candidates": len(shared),
        "kendall_tau_shared": {
            way: _tau(
                [
                    (
                        statistics.fmean(
                            c["accuracy"]
                            for r in figures["runs"]
                            if r["way"] == way and r["seed"] in seeds
                            for c in r["candidates"]
                            if c["point"] == key
                        ),
                        long[key],
                    )
                    for key in shared
                    if long.get(key) is not None
                ]
            )
            for way in WAYS
        },
        "final_top1_difference": (
            inherit["final_top1_mean"] - scratch["final_top1_mean"]
            if inherit["final_top1_mean"] is not None and scratch["final_top1_mean"] is not None
            else None
        ),
    }


def _number(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown(figures: dict[str, Any]) -> str:
    """The results page: per way the seeds' paths, search seconds, final top-1 and τ against long training."""
    rows = []
    for run in sorted(figures["runs"], key=lambda r: (r["seed"], r["way"])):
        rows.append(
            (
                run["way"],
                run["seed"],
                " > ".join(run["path"]),
                f"`{run['chosen']}`",
                run["trained"],
                run.get("inherited", 0),
                f"{run['search_seconds']:.0f}",
                f"{run['trial_seconds']:.0f}",
                _number(run["final_accuracy"]),
            )
        )
    summary = [
        (
            way,
            len(stats["seeds"]),
            _number(stats["search_seconds"], 0),
            _number(stats["trial_seconds"], 0),
            _number(stats["final_top1_mean"]),
            _number(stats["final_top1_sem"]),
            _number(stats["kendall_tau_within_steps"], 2),
            _number(stats["kendall_tau_vs_long"], 2),
            f"{stats['candidates_with_long']} of {stats['candidates']}",
        )
        for way, stats in figures["ways"].items()
    ]
    shared = figures.get("kendall_tau_shared", {})
    return "\n".join(
        [
            results_page.header("Inherited weights against training from scratch", figures),
            f"Each run: `{figures['search']}`, inherited candidates training {figures['inherit_epochs']:g} epochs "
            f"(the proxy: {figures['proxy_epochs']:g}). Search seconds: the summed training seconds of the search's "
            "proxy trials; trial seconds: from each trial's start to its end (validation, checkpoints and growth "
            "included); the final training left out of both.",
            "",
            results_page.table(
                ["way", "seed", "path", "chosen", "trained", "inherited", "search s", "trial s", "final top-1"], rows
            ),
            "",
            f"Over the seeds both ways finished ({', '.join(map(str, figures['paired_seeds'])) or 'none yet'}); τ "
            f"against {figures.get('long_epochs', 0):g} epochs from scratch (seed 0), within each step (what the "
            "search ranks, averaged over steps and seeds) and over all of a way's candidates:",
            "",
            results_page.table(
                [
                    "way",
                    "seeds",
                    "search s (mean)",
                    "trial s (mean)",
                    "final top-1 mean",
                    "SEM",
                    "τ within steps",
                    "τ all candidates",
                    "candidates trained long",
                ],
                summary,
            ),
            "",
            f"Search seconds, inherit over scratch: {_number(figures.get('search_seconds_ratio'), 2)} (trial seconds: "
            f"{_number(figures.get('trial_seconds_ratio'), 2)}); final top-1, inherit minus scratch: "
            f"{_number(figures.get('final_top1_difference'))}; τ over the {figures.get('shared_candidates', 0)} "
            f"candidates both ways met: scratch {_number(shared.get('scratch'), 2)}, inherit "
            f"{_number(shared.get('inherit'), 2)}.",
        ]
    )


if __name__ == "__main__":
    main()
