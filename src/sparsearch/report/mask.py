"""The HTML report of a mask study: figures, paired statistics, config and environment."""

from __future__ import annotations

from pathlib import Path

from ..store import Store
from . import figures
from .data import ReportData, collect
from .environment import environment
from .files import SavedFigure, save
from .page import render

CAPTIONS = {
    "accuracy_vs_sparsity": (
        "Test accuracy against sparsity, mean over seeds with 95% t-interval error bars; the sparsities are evenly "
        "spaced and the arms stand side by side at each, in the legend's order; the dashed line and its band are the "
        "dense parent. Top axis: the weight sparsity (node space) or the parameter count (weight space) each "
        "sparsity amounts to."
    ),
    "learning_curves": (
        "Validation accuracy per epoch, mean over seeds with 95% t-interval band, one panel per sparsity; "
        "the dashed curve is the dense parent, the same in every panel."
    ),
    "paired_differences": (
        "Paired test-accuracy differences (arm minus baseline, in points) with BCa bootstrap 95% CIs over seeds, one "
        "row per arm within each sparsity; filled markers: Holm-adjusted Wilcoxon p < 0.05."
    ),
    "probe_quality": (
        "Probe quality: each audited candidate's probe score (as its percentile rank among its seed's audited "
        "candidates; right = the probe prefers it) against its validation accuracy after full training, one panel "
        "per sparsity. A probe with signal puts the best-trained candidates on the right."
    ),
    "anytime": (
        "Search at equal budget: the best validation accuracy each search had seen against what it had spent "
        "(dense-parent epochs, log scale), mean over seeds after each of its trainings (oracle: each fully trained "
        "candidate, in draw order, i.e. random search with full training; successive halving: each rung; evolution: "
        "each generation). Successive halving's early rungs and evolution's fitness see partly trained networks. "
        "Markers: other arms that spent something (mean cost, mean best validation accuracy of their trials); "
        "dotted: random, which spends nothing."
    ),
    "speed": (
        "Measured speed (docs/method.md, \"Measured speed\"): test accuracy against each arm's measured latency at the "
        "throughput batch (left; means over seeds per sparsity, 95% t-intervals), and each trial's FLOPs against its "
        "latency (right). The dashed line is where latency would fall in proportion to FLOPs from the dense parent: "
        "points right of it ran slower than their FLOPs predict."
    ),
    "accuracy_vs_cost": (
        "Test accuracy against parameter count and FLOPs per example (log scale), mean over seeds with 95% "
        "t-interval error bars; arms of the same cost stand side by side around it."
    ),
}


def write_mask_report(store: Store, experiment: str, config, out_dir: Path) -> Path:
    """The report of a mask study."""
    data = collect(store, experiment)
    out_dir.mkdir(parents=True, exist_ok=True)
    index = out_dir / "index.html"
    index.write_text(render(data, _figures(data, out_dir), environment()), encoding="utf-8")
    return index


def _figures(data: ReportData, out_dir: Path) -> list[SavedFigure]:
    styles = figures.arm_styles(data.arms)
    made = {
        "accuracy_vs_sparsity": figures.accuracy_vs_sparsity(data.summary, styles, data.space),
        "learning_curves": figures.learning_curves(data.curves, styles, data.space),
    }
    if data.comparisons:
        made["paired_differences"] = figures.paired_differences(data.comparisons, styles, data.space)
    if data.anytime:
        made["anytime"] = figures.anytime(data.anytime, data.rows, styles, data.space)
    made["accuracy_vs_cost"] = figures.accuracy_vs_cost(data.summary, styles)
    if any(row.get("latency_ms") is not None for row in data.rows):
        made["speed"] = figures.speed(data.rows, styles)
    if data.audits:
        made["probe_quality"] = figures.probe_quality(data.audits, styles)
    return [save(fig, out_dir, name, CAPTIONS[name]) for name, fig in made.items()]
