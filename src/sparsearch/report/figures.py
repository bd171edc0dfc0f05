"""The report's figures, one function each; each returns a matplotlib Figure (no pyplot state)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.container import Container
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import ScaledTranslation

from ..analysis.paired import ALPHA, METRICS, Comparison
from ..analysis.summary import ArmRow, Interval, mean_interval
from ..arms import ARMS

PANEL = (4.6, 3.2)  # inches per panel
DODGE = 5.0  # points between the markers of neighbouring arms at the same x (or y)
MARKERS = "os^vPX"
# tab20's dark shades, then its light ones: 20 distinguishable colours, in a fixed order
COLORS = [to_hex(c) for c in colormaps["tab20"].colors[0::2] + colormaps["tab20"].colors[1::2]]
AXIS_LABELS = {
    "node": "node sparsity (fraction of hidden units removed)",
    "weight": "weight sparsity (fraction of the parent's weights gone)",
}


@dataclass(frozen=True)
class Style:
    color: str
    marker: str


def arm_styles(arms: list[str]) -> dict[str, Style]:
    """One colour and marker per arm, stable across figures and experiments: registry order."""
    order = [a for a in ARMS if a != "dense"] + sorted(set(arms) - set(ARMS))
    return {"dense": Style("0.3", "D"), **series_styles(order)}


def series_styles(names: list[str]) -> dict[str, Style]:
    """Distinct colours and markers for `names`, in order."""
    return {name: Style(COLORS[i % len(COLORS)], MARKERS[i % len(MARKERS)]) for i, name in enumerate(names)}


def accuracy_vs_sparsity(summary: list[ArmRow], styles: dict[str, Style], space: str) -> Figure:
    """Test accuracy against the space's sparsity per arm, the dense parent as a reference line,
    and on a secondary axis what that sparsity amounts to: weight sparsity (node space) or
    parameters (weight space)."""
    fig, (ax,) = new_figure(1, panel=(7.0, 4.2))
    sparse = _by_arm([r for r in summary if r.arm != "dense"])
    for index, (arm, arm_rows) in enumerate(sparse.items()):
        _accuracy_series(ax, [r.sparsity for r in arm_rows], arm_rows, arm, styles[arm], (index, len(sparse)))
    _dense_reference(ax, summary, styles["dense"])
    sparsities = sorted({r.sparsity for r in summary if r.arm != "dense"})
    if sparsities:
        pad = max(0.05, 0.08 * (sparsities[-1] - sparsities[0]))
        ax.set_xlim(sparsities[0] - pad, min(1.0, sparsities[-1] + pad))
        ax.set_xticks(sparsities, [f"{s:g}" for s in sparsities])
        _secondary_axis(ax, summary, sparsities, space)
    style_axes(ax, AXIS_LABELS[space], "test accuracy (%)")
    ax.spines["top"].set_visible(True)
    add_legend(fig, [ax], styles)
    return fig


def _secondary_axis(ax: Axes, summary: list[ArmRow], sparsities: list[float], space: str) -> None:
    """A top axis labelled with the mean weight sparsity (node space) or params (weight space)
    of the sparse networks at each sparsity, interpolated in between."""
    field, label, fmt = ("weight_sparsity", AXIS_LABELS["weight"], "{:.3f}") if space == "node" else (
        "params", "parameters (weights kept + biases)", "{:,.0f}")
    values = [np.mean([getattr(r, field) for r in summary if r.sparsity == s and r.arm != "dense"]) for s in sparsities]
    order = np.argsort(values)
    forward_ = lambda x: np.interp(x, sparsities, values)  # noqa: E731
    inverse = lambda v: np.interp(v, np.array(values)[order], np.array(sparsities)[order])  # noqa: E731
    top = ax.secondary_xaxis("top", functions=(forward_, inverse))
    top.set_xticks(values, [fmt.format(v) for v in values])
    top.set_xlabel(label)


def learning_curves(curves: dict[tuple[float, str], tuple], styles: dict[str, Style], space: str) -> Figure:
    """Mean validation accuracy per epoch, one panel per sparsity, the dense parent in each."""
    sparsities = sorted({s for s, arm in curves if arm != "dense"}) or [0.0]
    ncols = min(4, len(sparsities))
    nrows = math.ceil(len(sparsities) / ncols)
    fig, axes = new_figure(ncols, nrows, panel=(3.4, 2.8), sharey=True)
    dense = [(arm, c) for (s, arm), c in curves.items() if arm == "dense"]
    for ax, sparsity in zip(axes, sparsities):
        panel = [(arm, c) for (s, arm), c in curves.items() if s == sparsity and arm != "dense"]
        for arm, (mean, low, high) in panel + dense:
            epochs = range(1, len(mean) + 1)
            style = styles[arm]
            ax.plot(epochs, [100 * m for m in mean], color=style.color, linestyle="--" if arm == "dense" else "-",
                    linewidth=1.4, label=_label(arm))
            add_band(ax, epochs, low, high, style.color)
        style_axes(ax, "epoch", "validation accuracy (%)" if ax.get_subplotspec().is_first_col() else None,
               f"{space} sparsity {sparsity:g}")
    for ax in axes[len(sparsities):]:
        ax.set_visible(False)
    add_legend(fig, axes, styles)
    return fig


def anytime(steps: list[dict], rows: list[dict], styles: dict[str, Style], space: str) -> Figure:
    """Per sparsity: the best validation accuracy each search had seen against the search cost
    it had spent (dense-parent epochs, log scale), mean over seeds step by step; every other arm
    that spent something as one marker (its mean cost, the mean best validation accuracy of
    its trials); `random`, which spends nothing, as a dotted line."""
    sparsities = sorted({s["sparsity"] for s in steps})
    fig, axes = new_figure(len(sparsities), panel=(4.6, 3.4), sharey=True)
    for ax, sparsity in zip(axes, sparsities):
        for arm in dict.fromkeys(s["arm"] for s in steps if s["sparsity"] == sparsity):
            by_seed: dict[int, list[tuple[float, float]]] = {}
            for s in steps:
                if s["sparsity"] == sparsity and s["arm"] == arm:
                    by_seed.setdefault(s["seed"], []).append((s["cost"], s["best_val_acc"]))
            length = min(map(len, by_seed.values()))
            cost = [np.mean([path[k][0] for path in by_seed.values()]) for k in range(length)]
            accuracy = [100 * np.mean([path[k][1] for path in by_seed.values()]) for k in range(length)]
            ax.plot(cost, accuracy, drawstyle="steps-post", color=styles[arm].color, marker=styles[arm].marker,
                    markersize=3, linewidth=1.4, label=_label(arm))
        searched = {s["arm"] for s in steps}
        here = [r for r in rows if r["sparsity"] == sparsity]
        for arm in dict.fromkeys(r["arm"] for r in here):
            mine = [r for r in here if r["arm"] == arm]
            costs = [r["search_cost"] for r in mine]
            accuracy = 100 * np.mean([r["best_val_acc"] for r in mine])
            if arm == "random":
                ax.axhline(accuracy, color=styles[arm].color, linestyle=":", linewidth=1.2, label=_label(arm))
            elif arm not in searched and None not in costs and np.mean(costs) > 0:
                ax.plot([np.mean(costs)], [accuracy], linestyle="none", color=styles[arm].color,
                        marker=styles[arm].marker, markersize=6, label=_label(arm))
        ax.set_xscale("log")
        style_axes(ax, "search cost (dense-parent epochs)",
                   "best validation accuracy seen (%)" if ax.get_subplotspec().is_first_col() else None,
                   f"{space} sparsity {sparsity:g}")
    add_legend(fig, axes, styles)
    return fig


def paired_differences(comparisons: list[Comparison], styles: dict[str, Style], space: str) -> Figure:
    """Forest plot of test-accuracy differences (arm minus baseline) per sparsity with their
    bootstrap 95% CI, one panel per baseline; filled markers where Holm p < ALPHA."""
    _, scale, unit, _ = METRICS["test_acc"]
    order = list(styles)
    chosen = [c for c in comparisons if c.metric == "test_acc"]
    baselines = list(dict.fromkeys(c.baseline for c in chosen))
    chosen.sort(key=lambda c: order.index(c.arm))
    sparsities = sorted({c.sparsity for c in chosen})
    fig, axes = new_figure(len(baselines), panel=(4.6, 1.2 + 0.45 * len(sparsities)))
    for ax, baseline in zip(axes, baselines):
        arms = list(dict.fromkeys(c.arm for c in chosen if c.baseline == baseline))
        for c in (c for c in chosen if c.baseline == baseline):
            style = styles[c.arm]
            mean, low, high = scale * c.mean_diff, scale * c.ci_low, scale * c.ci_high
            # A degenerate interval (every paired difference equal) can put its bound a rounding
            # error past the mean; matplotlib refuses negative bar lengths, so those draw as 0.
            bars = ax.errorbar(mean, sparsities.index(c.sparsity), xerr=[[max(mean - low, 0.0)], [max(high - mean, 0.0)]],
                               color=style.color, marker=style.marker, capsize=3, linestyle="none", label=_label(c.arm),
                               markerfacecolor=style.color if c.p_holm < ALPHA else "white")
            _dodge(ax, bars, arms.index(c.arm), len(arms), vertical=True)
        ax.axvline(0, color="0.2", linewidth=0.8)
        ax.set_yticks(range(len(sparsities)), [f"{s:g}" for s in sparsities])
        ax.set_ylim(len(sparsities) - 0.5, -0.5)
        style_axes(ax, f"test accuracy difference ({unit.strip()})", f"{space} sparsity", f"arm minus {baseline}")
    significance = [
        Line2D([], [], color="0.3", marker="o", linestyle="none", label=f"filled: Holm p < {ALPHA:g}"),
        Line2D([], [], color="0.3", marker="o", markerfacecolor="white", linestyle="none",
               label="open: not significant"),
    ]
    add_legend(fig, axes, styles, significance)
    return fig


def accuracy_vs_cost(summary: list[ArmRow], styles: dict[str, Style]) -> Figure:
    """Test accuracy against parameter count and against FLOPs (log x), per arm."""
    fig, axes = new_figure(2, panel=(4.2, 3.4), sharey=True)
    arms = _by_arm(summary)
    for ax, (cost, label) in zip(axes, (("params", "parameters"), ("flops", "FLOPs per example"))):
        ax.set_xscale("log")
        for index, (arm, arm_rows) in enumerate(arms.items()):
            _accuracy_series(ax, [getattr(r, cost) for r in arm_rows], arm_rows, arm, styles[arm], (index, len(arms)))
        style_axes(ax, f"{label} (log scale)", "test accuracy (%)" if ax is axes[0] else None)
    add_legend(fig, axes, styles)
    return fig


def speed(rows: list[dict], styles: dict[str, Style]) -> Figure:
    """Measured latency per arm (log x): test accuracy against it (means over seeds per sparsity,
    95% t-intervals), and each trial's FLOPs against it, with the line where latency falls in
    proportion to FLOPs from the dense parent's (what FLOPs predict)."""
    measured = [r for r in rows if r.get("latency_ms") is not None]
    fig, axes = new_figure(2, panel=(4.4, 3.4))
    arms = list(dict.fromkeys(r["arm"] for r in measured))
    for index, arm in enumerate(arms):
        mine = [r for r in measured if r["arm"] == arm]
        cells = [[r for r in mine if r["sparsity"] == s] for s in sorted({r["sparsity"] for r in mine})]
        intervals = [mean_interval([r["test_acc"] for r in cell]) for cell in cells]
        errors = [100 * _half(i) for i in intervals]
        bars = axes[0].errorbar([float(np.mean([r["latency_ms"] for r in cell])) for cell in cells],
                                [100 * i.mean for i in intervals], yerr=errors if any(errors) else None,
                                color=styles[arm].color, marker=styles[arm].marker, capsize=3, linewidth=1.4,
                                label=_label(arm))
        _dodge(axes[0], bars, index, len(arms))
        axes[1].scatter([r["latency_ms"] for r in mine], [r["flops"] for r in mine], s=14, alpha=0.7,
                        color=styles[arm].color, marker=styles[arm].marker, label=_label(arm), linewidths=0)
    dense = [r for r in measured if r["arm"] == "dense"]
    if dense:
        flops, latency = float(np.mean([r["flops"] for r in dense])), float(np.mean([r["latency_ms"] for r in dense]))
        span = np.geomspace(min(r["flops"] for r in measured), max(r["flops"] for r in measured), 20)
        axes[1].plot(latency * span / flops, span, color="0.5", linestyle="--", linewidth=1,
                     label="latency ∝ FLOPs (from dense)")
    style_axes(axes[0], "latency, ms per batch (log scale)", "test accuracy (%)")
    style_axes(axes[1], "latency, ms per batch (log scale)", "FLOPs per example (log scale)",
               "; ".join(sorted({r["latency_device"] for r in measured})))
    for ax in axes:
        ax.set_xscale("log")
    axes[1].set_yscale("log")
    extra = [h for h in axes[1].get_lines() if h.get_label().startswith("latency")]
    add_legend(fig, axes, styles, extra)
    return fig


def probe_quality(audits: list[dict], styles: dict[str, Style]) -> Figure:
    """Probe score against the trained validation accuracy of the audited candidates, one
    panel per sparsity, one series per auditing arm. Scores are not comparable across probes or
    seeds, so each is shown as its percentile rank among its seed's audited candidates."""
    sparsities = sorted({a["sparsity"] for a in audits})
    fig, axes = new_figure(len(sparsities), panel=(4.0, 3.3), sharey=False)
    for ax, sparsity in zip(axes, sparsities):
        for arm in dict.fromkeys(a["arm"] for a in audits):
            x, y = [], []
            for a in (a for a in audits if a["arm"] == arm and a["sparsity"] == sparsity):
                scores = np.nan_to_num(np.asarray(a["scores"], dtype=float), nan=-np.inf)
                ranks = np.argsort(np.argsort(scores, kind="stable"), kind="stable") / max(len(scores) - 1, 1)
                x += ranks.tolist()
                y += [100 * v for v in a["val_acc"]]
            ax.scatter(x, y, s=9, alpha=0.45, color=styles[arm].color, marker=styles[arm].marker, label=_label(arm),
                       linewidths=0)
        style_axes(ax, "probe score, percentile rank within seed", "trained val accuracy (%)" if ax is axes[0] else None,
               f"sparsity {sparsity:g}")
    add_legend(fig, axes, styles)
    return fig


# shared helpers ---------------------------------------------------------------------------
def new_figure(ncols: int, nrows: int = 1, *, panel: tuple[float, float] = PANEL, sharey: bool = False):
    """A constrained-layout figure of ncols x nrows panels (room below for the legend)."""
    fig = Figure(figsize=(panel[0] * ncols, panel[1] * nrows + 0.5), layout="constrained")
    return fig, list(fig.subplots(nrows, ncols, sharey=sharey, squeeze=False).ravel())


def style_axes(ax: Axes, xlabel: str, ylabel: str | None = None, title: str | None = None) -> None:
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize="medium")
    ax.grid(alpha=0.3, linewidth=0.6)
    ax.spines[["top", "right"]].set_visible(False)


def add_legend(fig: Figure, axes: list[Axes], styles: dict[str, Style], extra: list[Line2D] = ()) -> None:
    """One legend for the whole figure, below the panels, each arm once in the styles' order."""
    found = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            found.setdefault(label, handle)
    handles = {_label(arm): found[_label(arm)] for arm in styles if _label(arm) in found}
    handles.update({h.get_label(): h for h in extra})
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncols=min(len(handles), 4), frameon=False)


def _dodge(ax: Axes, container: Container, index: int, count: int, vertical: bool = False) -> None:
    """Shift plotted artists by a few points, so arms at the same position stay apart. Done
    after plotting, so autoscaling has seen the true data."""
    offset = (index - (count - 1) / 2) * DODGE / 72
    shift = ScaledTranslation(*((0, -offset) if vertical else (offset, 0)), ax.get_figure().dpi_scale_trans)
    for artist in container.get_children():
        artist.set_transform(ax.transData + shift)


def add_band(ax: Axes, x, low: list[float], high: list[float], color: str, scale: float = 100.0) -> None:
    """A 95% band (skipped where it has no width, e.g. with one seed); accuracies shown in %."""
    if any(h > l for l, h in zip(low, high)):
        ax.fill_between(x, [scale * v for v in low], [scale * v for v in high], color=color, alpha=0.18, linewidth=0)


def _accuracy_series(
    ax: Axes, x: list[float], rows: list[ArmRow], arm: str, style: Style, slot: tuple[int, int]
) -> None:
    """Mean test accuracy (%) of one arm with 95% error bars (none with one seed), dodged to
    its slot (index, count) among the arms."""
    errors = [100 * _half(r.test_acc) for r in rows]
    bars = ax.errorbar(x, [100 * r.test_acc.mean for r in rows], yerr=errors if any(errors) else None,
                       color=style.color, marker=style.marker, capsize=3, linewidth=1.4, label=_label(arm))
    _dodge(ax, bars, *slot)


def _dense_reference(ax: Axes, summary: list[ArmRow], style: Style) -> None:
    for row in (r for r in summary if r.arm == "dense"):
        mean, half = 100 * row.test_acc.mean, 100 * _half(row.test_acc)
        ax.axhline(mean, color=style.color, linestyle="--", linewidth=1.2, label=_label("dense"))
        if half:
            ax.axhspan(mean - half, mean + half, color=style.color, alpha=0.12, linewidth=0)


def _by_arm(summary: list[ArmRow]) -> dict[str, list[ArmRow]]:
    arms: dict[str, list[ArmRow]] = {}
    for row in summary:
        arms.setdefault(row.arm, []).append(row)
    return {arm: sorted(rows, key=lambda r: r.sparsity) for arm, rows in arms.items()}


def _half(interval: Interval) -> float:
    return 0.0 if math.isnan(interval.half_width) else interval.half_width


def _label(arm: str) -> str:
    return "dense (parent)" if arm == "dense" else arm
