"""The figures of ``nas report``: the expansion path (as X3D's Figure 2) and accuracy-compute Pareto fronts.

Matplotlib is imported on first use with the file-only Agg backend, so a
report works on a machine with no display.  Compute is in GMACs
(multiply-adds x 1e9) on a log axis: each expansion step roughly doubles it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

#: One colour per X3D-style operation (other spaces' operations cycle through the default palette).
OPERATION_COLOURS = {
    "fast": "#1f77b4",
    "temporal": "#ff7f0e",
    "spatial": "#2ca02c",
    "width": "#d62728",
    "bottleneck": "#9467bd",
    "depth": "#8c564b",
}


def pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


#: The colours of lines that are not an expansion operation's, in order.
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


def colour(operation: str, index: int) -> str:
    return OPERATION_COLOURS.get(operation, PALETTE[index % len(PALETTE)])


def line_style(index: int) -> str:
    """Solid for the first lines, then dashed, then dotted: with :func:`colour`, each of up to 24 lines differs
    from every other (a comparison draws 12 strategies, more than the palette has colours)."""
    return ("-", "--", ":")[(index // len(PALETTE)) % 3]


#: The cost axis of a compute plot, and of a latency plot (studies or comparisons under ``--cost latency``).
COMPUTE_AXIS = "compute (GMACs = multiply-adds x 1e9 per clip, log scale)"
LATENCY_AXIS = "predicted latency (ms per clip at batch 1 on the search's machine, log scale)"


def compute_axis(axes: Any, label: str = COMPUTE_AXIS) -> None:
    """Log-2 cost axis with plain decimal tick labels (0.004, not 2^-8);
    compute in GMACs unless ``label`` says otherwise."""
    from matplotlib.ticker import FuncFormatter

    axes.set_xscale("log", base=2)
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.3g}"))
    axes.set_xlabel(label)


def save_figure(figure: Any, path: str | os.PathLike) -> None:
    """Write the PNG whole or not at all (a temporary file renamed into place)."""
    from estimators.files import write_atomically

    write_atomically(path, lambda tmp: figure.savefig(tmp, dpi=130, format="png"))


def new_figure() -> tuple[Any, Any]:
    return pyplot().subplots(figsize=(8, 5.2))


def finish(figure: Any, axes: Any, title: str, path: str | os.PathLike, legend_at: str = "best") -> None:
    """Title, grid and legend, then write the PNG and free the figure."""
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc=legend_at)
    figure.tight_layout()
    save_figure(figure, path)
    pyplot().close(figure)


def plot_expansion_path(
    path: Sequence[dict[str, Any]],
    *,
    title: str,
    target_gmacs: float | None,
    out: str | os.PathLike,
    chosen_final: float | None = None,
) -> None:
    """Accuracy against GMACs: every step's candidates by axis, the kept one joined into the path and labelled."""
    figure, axes = new_figure()
    operations = sorted({op for step in path for op in step["candidates"]})
    for index, operation in enumerate(operations):
        measured = [
            step["candidates"][operation]
            for step in path
            if operation in step["candidates"] and step["candidates"][operation]["accuracy"] is not None
        ]
        axes.errorbar(
            [c["gmacs"] for c in measured],
            [c["accuracy"] for c in measured],
            yerr=_errors(measured),
            fmt="o",
            ms=5,
            alpha=0.5,
            capsize=2,
            color=colour(operation, index),
            label=f"candidate: X-{operation.title()}",
        )
    kept = [s for s in path if s["accuracy"] is not None and s["role"] != "contraction"]
    axes.errorbar(
        [s["gmacs"] for s in kept],
        [s["accuracy"] for s in kept],
        yerr=_errors(kept),
        fmt="-o",
        color="black",
        lw=1.8,
        ms=6,
        capsize=3,
        label="expansion path (± standard error)",
        zorder=3,
    )
    ties = [s for s in kept if (s.get("decision") or {}).get("tie")]
    if ties:
        axes.scatter(
            [s["gmacs"] for s in ties],
            [s["accuracy"] for s in ties],
            s=160,
            facecolors="none",
            edgecolors="red",
            lw=1.5,
            zorder=4,
            label="tie: runner-up within the noise",
        )
    for step in kept:
        label = "X2D base" if step["role"] == "base" else f"{step['step']}: {step['operation']}"
        decision = step.get("decision") or {}
        if decision.get("tie"):
            label += f" (tie, {decision.get('outcome')})"
        axes.annotate(label, (step["gmacs"], step["accuracy"]), textcoords="offset points", xytext=(6, 6), fontsize=8)
    for step in (s for s in path if s["role"] == "contraction" and s["accuracy"] is not None):
        overshoot = next((s for s in kept if s["step"] == step["step"] and s["role"] == "overshoot"), None)
        if overshoot:
            axes.annotate(
                "",
                (step["gmacs"], step["accuracy"]),
                (overshoot["gmacs"], overshoot["accuracy"]),
                arrowprops={"arrowstyle": "->", "ls": "--", "color": "black"},
            )
        axes.scatter(
            [step["gmacs"]],
            [step["accuracy"]],
            marker="*",
            s=220,
            color="gold",
            edgecolor="black",
            zorder=4,
            label=f"chosen (contracted along {step['operation']})",
        )
    if target_gmacs:
        axes.axvline(target_gmacs, color="grey", ls=":", lw=1.2, label=f"target {target_gmacs:.4g} GMACs")
    compute_axis(axes)
    axes.set_ylabel("top-1 after the proxy schedule")
    subtitle = f"; chosen model's final top-1 {chosen_final:.3f}" if chosen_final is not None else ""
    finish(figure, axes, title + subtitle, out, legend_at="lower right")


def _errors(points: Sequence[dict[str, Any]]) -> list[float] | None:
    """Each point's standard error (0 where unknown), or None when no point has one."""
    errors = [p.get("accuracy_se") or 0.0 for p in points]
    return errors if any(errors) else None


def plot_pareto(
    studies: Sequence[dict[str, Any]], *, out: str | os.PathLike, target: float | None = None, latency: bool = False
) -> None:
    """Every study's trials (faint) and its accuracy-cost Pareto front (a staircase), overlaid.

    Each entry of ``studies``: ``label``, ``points`` [(cost, accuracy)] and ``front`` [(cost, accuracy)];
    the cost is GMACs, or predicted ms when ``latency`` (studies searched under ``--cost latency``).
    """
    figure, axes = new_figure()
    for index, study in enumerate(studies):
        shade = colour("", index)
        xs, ys = zip(*study["points"]) if study["points"] else ((), ())
        axes.scatter(xs, ys, s=16, alpha=0.3, color=shade)
        if study["front"]:
            fx, fy = zip(*study["front"])
            axes.step(
                fx, fy, where="post", color=shade, lw=1.8, label=f"{study['label']} ({len(study['points'])} trials)"
            )
            axes.scatter(fx, fy, s=30, color=shade, edgecolor="black", zorder=3)
    if target:
        axes.axvline(target, color="grey", ls=":", lw=1.2, label=f"target {target:.4g} {'ms' if latency else 'GMACs'}")
    compute_axis(axes, LATENCY_AXIS if latency else COMPUTE_AXIS)
    axes.set_ylabel("top-1 after the proxy schedule")
    finish(figure, axes, f"accuracy-{'latency' if latency else 'compute'} Pareto fronts", out, legend_at="lower right")
