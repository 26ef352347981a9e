"""``nas bench compare``: strategies x benchmark seeds on equal budgets, into CSV, Markdown and PNGs.

The CSV holds only what the runs determine (no times of day, versions or
wall-clock seconds), so re-running the same command rewrites it byte for
byte; the Markdown adds a header saying when, with what and how long.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from estimators.files import write_atomically
from spaces.errors import NasError


@dataclass(frozen=True)
class CompareConfig:
    """What ``nas bench compare`` and ``nas.compare()`` take (a table path; None for ``out`` writes no files)."""

    table: str
    strategies: str | None = "coordinate,random"  # None: every built-in strategy the table can answer
    seeds: int = 20
    budget: int | None = None
    epsilon: float = 0.01
    out: str | None = "benchmarks/results"
    cost: str = "flops"
    target_ms: float | None = None
    latency_threads: int = 1


def write_text_atomically(path: Path, text: str) -> None:
    write_atomically(path, lambda tmp: Path(tmp).write_text(text))


def _budgets(budget: int) -> list[int]:
    return sorted({max(1, budget // 4), max(1, budget // 2), budget})


def compare(args: CompareConfig) -> dict[str, Any]:
    """Every strategy under every benchmark seed on equal budgets; the summary rows, with CSV, Markdown and
    PNGs written to ``args.out`` (none where it is None).  Returns ``{"rows", "budgets", **header}``."""
    from estimators.lookup import TableLookup
    from estimators.predictor import (
        AccuracyPredictor,
        held_out_rank_quality,
        table_targets,
    )
    from estimators.tabular import Table
    from spaces import get_space

    from .comparison import default_strategies, summarise
    from .strategies.coordinate import CoordinateExpansion
    from .strategies.registry import get_strategy_class

    started = time.time()
    names = list(dict.fromkeys(n.strip() for n in (args.strategies or "").split(",") if n.strip()))
    if args.strategies is not None and not names:
        raise NasError("--strategies names no strategy; give e.g. coordinate,random")
    for name in names:
        get_strategy_class(name)  # an unknown name fails before any work
    if args.seeds < 1:
        raise NasError(f"--seeds must be at least 1, got {args.seeds}")
    if not 0 <= args.epsilon < 1:
        raise NasError(f"--epsilon must be in [0, 1), got {args.epsilon}")
    table = Table(args.table)
    if not names:  # every built-in strategy the table can answer (pruning needs learning curves)
        names = default_strategies(TableLookup(table))
        args = dataclasses.replace(args, strategies=",".join(names))  # the command written beside the results
    meta = table.meta
    space = get_space(meta["space"], **meta["space_settings"])
    target, cost, unit = _target_and_cost(args, space, int(meta["target_macs"]))
    budget = (
        args.budget
        if args.budget is not None
        else len(CoordinateExpansion(space, target=target, cost=cost).planned_costs([]))
    )
    if budget < 1:
        raise NasError(f"--budget must be at least 1, got {budget}")
    points, targets = table_targets(table, space)
    predictor = AccuracyPredictor(space, random_state=0).fit(points, targets)
    quality = held_out_rank_quality(points, targets, space, seed=0)
    lookups = {seed: TableLookup(table, bench_seed=seed, predictor=predictor) for seed in range(args.seeds)}
    runs = _run_all(space, names, lookups, target, budget, cost)
    # The best known within the target under each seed's draws: the table's best, or a better point some run found.
    optimum = {
        seed: max(
            [
                _table_optimum(table, space, lookup, target, cost),
                *(
                    a
                    for r in runs
                    if r.seed == seed
                    for a, m in zip(r.accuracies, r.costs)
                    if a is not None and m <= target
                ),
            ]
        )
        for seed, lookup in lookups.items()
    }
    budgets = _budgets(budget)
    rows = summarise(
        runs,
        target=target,
        optimum=optimum.__getitem__,
        budgets=budgets,
        epsilon=args.epsilon,
        reference=(target / unit.scale, 0.0),
        scale=unit.scale,
    )
    header = {
        "table": str(args.table),
        "table_points": len(table.entries),
        "seeds": args.seeds,
        "budget": budget,
        "target": unit.show(target),
        "cost": unit.label,
        "epsilon": args.epsilon,
        "predictor": quality,
        "seconds": round(time.time() - started, 1),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": _command(args),
    }
    if args.out is not None:
        out = Path(args.out)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise NasError(f"cannot create the results folder {out}: {error.strerror or error}") from None
        write_text_atomically(out / "compare.csv", _csv(rows))
        _plots(runs, optimum, target, out, unit)
        write_text_atomically(out / "compare.md", _markdown(rows, budgets, header))
        write_text_atomically(
            out / "compare.json", json.dumps(verdict_json(rows, budgets, header), indent=1, sort_keys=True) + "\n"
        )
    return {"rows": rows, "budgets": budgets, **header}


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def verdict_json(rows: list[dict[str, Any]], budgets: list[int], header: dict[str, Any]) -> dict[str, Any]:
    """``compare.json``: the header, and per strategy what the verdict rests on (None where a figure is undefined)."""
    final = max(budgets)
    strategies = {
        row["strategy"]: {
            key: _finite(value)
            for key, value in {
                "from_table_fraction": row["from_table"],
                "final_best_mean": row[f"best@{final}"],
                "final_best_sem": row[f"best@{final}_sem"],
                "rank_mean": row["rank_mean"],
                "p_vs_random": row.get("wilcoxon_p_vs_random"),
                "p_holm_vs_random": row.get("p_holm_vs_random"),
                "beats_random": row.get("beats_random"),
                "models_to_epsilon": row["models_to_eps"],
                "seconds_to_epsilon": row["hours_to_eps"] * 3600,
                "seeds_within_epsilon": row["reached"],
                "seeds": row["seeds"],
            }.items()
        }
        for row in rows
    }
    return {**{k: v for k, v in header.items() if k != "seconds"}, "budgets": budgets, "strategies": strategies}


def verdict_rows(result: dict[str, Any]) -> list[dict[str, str]]:
    """The verdict as one table: final best, average rank, Holm-corrected test against random search, and the models
    and simulated seconds each strategy needs to come within epsilon of the best point within the target."""
    final = max(result["budgets"])
    shown = []
    for row in result["rows"]:
        p = row.get("p_holm_vs_random")
        reached = f"({row['reached']}/{row['seeds']} seeds)"
        shown.append(
            {
                "strategy": row["strategy"],
                f"final best top-1 ({final} models)": f"{row[f'best@{final}']:.3f} ± {row[f'best@{final}_sem']:.3f}",
                "mean rank": "-" if math.isnan(row["rank_mean"]) else f"{row['rank_mean']:.2f}",
                "p vs random (Holm)": "-" if p is None else f"{p:.3g}",
                "beats random": "yes" if row.get("beats_random") else "no",
                "models to within eps": ("-" if math.isnan(row["models_to_eps"]) else f"{row['models_to_eps']:.1f}")
                + f" {reached}",
                "seconds to within eps": "-"
                if math.isnan(row["hours_to_eps"])
                else f"{row['hours_to_eps'] * 3600:.0f}",
            }
        )
    return shown


def display_rows(result: dict[str, Any]) -> list[dict[str, str]]:
    """The rows as ``nas bench compare`` prints them (mean ± SEM per column)."""
    return [_display(r, result["budgets"]) for r in result["rows"]]


def _target_and_cost(args: CompareConfig, space, table_target: int):
    """The target in cost units, the cost (None: the table's MACs) and its display unit; bad combinations refused."""
    from .costs import GMACS, MILLISECONDS, latency_target

    if args.cost == "flops":
        if args.target_ms is not None:
            raise NasError(
                f"--target-ms {args.target_ms:g} needs --cost latency (with --cost flops the target is the table's)"
            )
        return table_target, None, GMACS
    target, cost = latency_target(args, space)  # the table's MACs target bounds its region; this one the search
    return target, cost, MILLISECONDS


def _run_all(space, names, lookups, target: int, budget: int, cost) -> list:
    from tqdm import tqdm

    from .comparison import run_strategy

    runs = []
    import sys

    with tqdm(
        total=len(names) * len(lookups), desc="runs", unit="run", leave=False, disable=not sys.stderr.isatty()
    ) as bar:
        for name in names:
            for seed, lookup in lookups.items():
                runs.append(run_strategy(space, name, seed, lookup, target=target, budget=budget, cost=cost))
                bar.update()
    return runs


def _table_optimum(table, space, lookup, target: int, cost) -> float:
    """The best accuracy within the target among the table's points, under this benchmark seed's draws.

    Points are tried best first and the first that fits is the answer, so a
    latency cost predicts a handful of points rather than the whole table.
    """
    from estimators.proxy import CandidateFailed

    scored = []
    for entry in table.entries.values():
        point = space.point(dict(entry.values))
        try:
            scored.append((lookup.evaluate(space, point).metrics["accuracy"], entry.macs, point))
        except CandidateFailed:
            continue
    for accuracy, macs, point in sorted(scored, key=lambda item: -item[0]):
        if (macs if cost is None else cost(point)) <= target:
            return accuracy
    return -math.inf


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6f}"
    return "" if value is None else value


def _csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows([{k: _rounded(v) for k, v in row.items()} for row in rows])
    return buffer.getvalue()


def _display(row: dict[str, Any], budgets: list[int]) -> dict[str, str]:
    def pm(key: str, scale: float = 1.0, digits: int = 3) -> str:
        mean, sem = row[key], row[key + "_sem"]
        return "-" if mean is None or math.isnan(mean) else f"{mean * scale:.{digits}f} ± {sem * scale:.{digits}f}"

    shown = {"strategy": row["strategy"]}
    for budget in budgets:
        shown[f"best top-1 after {budget}"] = pm(f"best@{budget}")
    shown["models to within eps"] = pm("models_to_eps", digits=1) + f" ({row['reached']}/{row['seeds']})"
    shown["hours to within eps"] = pm("hours_to_eps", digits=2)
    shown["hypervolume"] = pm("hypervolume", scale=1000, digits=2)
    shown["from table"] = "-" if math.isnan(row["from_table"]) else f"{row['from_table']:.0%}"
    p = next(v for k, v in row.items() if k.startswith("wilcoxon_p"))
    shown["Wilcoxon p vs random"] = "-" if p is None else f"{p:.3g}"
    return shown


def _markdown(rows, budgets, header) -> str:
    shown = [_display(r, budgets) for r in rows]
    columns = list(shown[0])
    lines = [
        f"# Strategy comparison on {header['table']}",
        "",
        f"- command: `{header['command']}`",
        f"- run {header['date']}, {header['seconds']:.0f} s",
        f"- {header['table_points']} table points; {header['seeds']} benchmark seeds per strategy; budget "
        f"{header['budget']} trained models; target {header['target']}; epsilon {header['epsilon']}",
        f"- predictor (random forest) on held-out table points, {header['predictor']['folds']}-fold cross-validation "
        f"repeated {header['predictor']['repeats']} times: Kendall tau {header['predictor']['kendall_tau']:.3f} ± "
        f"{header['predictor']['kendall_tau_sem']:.3f}, Spearman rho {header['predictor']['spearman_rho']:.3f} "
        f"({header['predictor']['n_test']} points per fold)",
        f"- mean ± SEM over seeds; hypervolume x 1000 ({header['cost']} x top-1 against the reference (target, 0));"
        " Wilcoxon signed-rank on the final best top-1, paired by seed; from table: share of the trained models"
        " the table answered (the predictor answered the rest)",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    lines += ["| " + " | ".join(row[c] for c in columns) + " |" for row in shown]
    verdict = verdict_rows({"rows": rows, "budgets": budgets})
    columns = list(verdict[0])
    lines += [
        "",
        "## Verdict",
        "",
        "Which strategies beat random search: a Wilcoxon signed-rank test of the final best top-1 against random "
        "search's, paired by seed, Holm-corrected over the strategies compared; *beats random* needs p < 0.05 "
        "and a higher mean. Mean rank: each seed ranks the strategies by final best (1 = best). Seconds are "
        "the table's training seconds of the models trained until within epsilon of the best point within the "
        "target.",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    lines += ["| " + " | ".join(row[c] for c in columns) + " |" for row in verdict]
    return "\n".join(lines) + "\n"


def _command(args: CompareConfig) -> str:
    latency = f" --cost latency --target-ms {args.target_ms:g}" if args.cost == "latency" else ""
    return (
        f"nas bench compare --table {args.table} --strategies {args.strategies} --seeds {args.seeds}"
        + (f" --budget {args.budget}" if args.budget else "")
        + f"{latency} --epsilon {args.epsilon} --out {args.out}"
    )


def _plots(runs, optimum, target: int, out: Path, unit) -> None:
    from .comparison import within_target
    from .metrics import mean_and_sem, pareto_points, regret_curve
    from .plots import (
        COMPUTE_AXIS,
        LATENCY_AXIS,
        colour,
        compute_axis,
        finish,
        line_style,
        new_figure,
    )

    strategies = list(dict.fromkeys(r.strategy for r in runs))
    figure, axes = new_figure()
    for index, name in enumerate(strategies):
        curves = [regret_curve(within_target(r, target), optimum[r.seed]) for r in runs if r.strategy == name]
        length = max(len(c) for c in curves)
        padded = [c + [c[-1]] * (length - len(c)) if c else [math.nan] * length for c in curves]
        stats = [mean_and_sem([c[i] for c in padded]) for i in range(length)]
        xs = list(range(1, length + 1))
        means, sems = [m for m, _ in stats], [s for _, s in stats]
        axes.plot(xs, means, color=colour("", index), ls=line_style(index), label=name)
        axes.fill_between(
            xs,
            [m - s for m, s in zip(means, sems)],
            [m + s for m, s in zip(means, sems)],
            color=colour("", index),
            alpha=0.15,
        )
    axes.set_xlabel("trained models")
    axes.set_ylabel("regret: table's best top-1 within the target - best found")
    finish(figure, axes, "anytime regret (mean ± SEM over benchmark seeds)", out / "anytime.png")
    _seconds_plot(runs, optimum, target, strategies, out / "anytime_seconds.png")
    figure, axes = new_figure()
    for index, name in enumerate(strategies):
        pooled = [
            (m / unit.scale, a)
            for r in runs
            if r.strategy == name
            for m, a in zip(r.costs, r.accuracies)
            if a is not None and m <= target
        ]
        front = pareto_points(pooled)
        if front:
            axes.step(*zip(*front), where="post", color=colour("", index), ls=line_style(index), label=name)
    axes.axvline(target / unit.scale, color="grey", ls=":", lw=1.2)
    compute_axis(axes, LATENCY_AXIS if unit.label == "ms" else COMPUTE_AXIS)
    axes.set_ylabel("top-1 (table or predictor)")
    finish(
        figure,
        axes,
        f"accuracy-{'latency' if unit.label == 'ms' else 'compute'} fronts, all seeds pooled",
        out / "pareto.png",
    )


def regret_at(run, optimum: float, target: int, times: list[float]) -> list[float]:
    """The run's regret at each of ``times`` (simulated training seconds): the best found by models finished by then."""
    from .comparison import within_target
    from .metrics import regret_curve

    regrets, finished = regret_curve(within_target(run, target), optimum), []
    elapsed = 0.0
    for seconds in run.seconds:
        elapsed += seconds
        finished.append(elapsed)
    return [
        next((r for t, r in zip(reversed(finished), reversed(regrets)) if t <= moment), math.nan) for moment in times
    ]


def _seconds_plot(runs, optimum, target: int, strategies: list[str], path: Path) -> None:
    """Regret against simulated training time: what a user pays, not how many models were trained."""
    from .metrics import mean_and_sem
    from .plots import colour, finish, line_style, new_figure

    horizon = max((sum(r.seconds) for r in runs), default=0.0)
    times = [horizon * (i + 1) / 200 for i in range(200)]
    figure, axes = new_figure()
    for index, name in enumerate(strategies):
        curves = [regret_at(r, optimum[r.seed], target, times) for r in runs if r.strategy == name]
        stats = [mean_and_sem([c[i] for c in curves]) for i in range(len(times))]
        minutes = [t / 60 for t in times]
        means = [m for m, _ in stats]
        axes.plot(minutes, means, color=colour("", index), ls=line_style(index), label=name)
        axes.fill_between(
            minutes, [m - s for m, s in stats], [m + s for m, s in stats], color=colour("", index), alpha=0.15
        )
    axes.set_xlabel("simulated training minutes (the table's training times)")
    axes.set_ylabel("regret: table's best top-1 within the target - best found")
    finish(figure, axes, "anytime regret against training time (mean ± SEM; a run counts once it has a model)", path)
