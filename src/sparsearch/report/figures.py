"""The report's figures, one function each; each returns a matplotlib Figure (no pyplot state)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..analysis.paired import ALPHA, METRICS, Comparison
from ..analysis.summary import ArmRow, Interval, mean_interval
from ..arms import ARMS

PANEL = (4.6, 3.2)  # inches per panel
MARKER = 6.0  # marker size, points
STEP = 7.5  # points between the centres of neighbouring arms' markers at one position
SLOT = 0.8  # share of the gap between neighbouring positions over which the arms at one position spread
FRAME = 0.9  # inches of a panel outside its axes (tick labels, axis label)
MAX_PANEL = 10.0  # inches: the widest a panel grows to fit its slots
PAGE = 14.0  # inches: the widest figure of panels side by side (the report's column shows it at about its size)
SAME_POSITION = 0.02  # decades: costs closer than this on a log axis share one position
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
    """Test accuracy against the space's sparsity per arm (the sparsities evenly spaced, the arms
    side by side at each, so none hides another), the dense parent as a reference line, and on a
    secondary axis what each sparsity amounts to: weight sparsity (node space) or parameters
    (weight space)."""
    sparse = _by_arm([r for r in summary if r.arm != "dense"], styles)
    sparsities = sorted({r.sparsity for r in summary if r.arm != "dense"})
    width = max(7.0, len(sparsities) * slot_inches(len(sparse)) + FRAME)
    fig, (ax,) = new_figure(1, panel=(width, 4.2))
    offsets = slot_offsets(len(sparse), (width - FRAME) / max(len(sparsities), 1))
    for (arm, arm_rows), offset in zip(sparse.items(), offsets):
        _accuracy_series(ax, [sparsities.index(r.sparsity) + offset for r in arm_rows], arm_rows, arm, styles[arm])
    _dense_reference(ax, summary, styles["dense"])
    if sparsities:
        ax.set_xlim(-0.5, len(sparsities) - 0.5)
        ax.set_xticks(range(len(sparsities)), [f"{s:g}" for s in sparsities])
        _secondary_axis(ax, summary, sparsities, space)
    style_axes(ax, AXIS_LABELS[space], "test accuracy (%)")
    ax.spines["top"].set_visible(True)
    add_legend(fig, [ax], styles)
    return fig


def _secondary_axis(ax: Axes, summary: list[ArmRow], sparsities: list[float], space: str) -> None:
    """A top axis labelled, at each sparsity, with the mean weight sparsity (node space) or
    params (weight space) of the sparse networks there."""
    field, label, fmt = ("weight_sparsity", AXIS_LABELS["weight"], "{:.3f}") if space == "node" else (
        "params", "parameters (weights kept + biases)", "{:,.0f}")
    values = [np.mean([getattr(r, field) for r in summary if r.sparsity == s and r.arm != "dense"]) for s in sparsities]
    top = ax.secondary_xaxis("top")
    top.set_xticks(range(len(sparsities)), [fmt.format(v) for v in values])
    top.set_xlabel(label)


def learning_curves(curves: dict[tuple[float, str], tuple], styles: dict[str, Style], space: str) -> Figure:
    """Mean validation accuracy per epoch, one panel per sparsity, the dense parent in each."""
    sparsities = sorted({s for s, arm in curves if arm != "dense"}) or [0.0]
    fig, axes = panel_grid(len(sparsities), (3.4, 2.8), sharey=True)
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
    add_legend(fig, axes, styles)
    return fig


def anytime(steps: list[dict], rows: list[dict], styles: dict[str, Style], space: str) -> Figure:
    """Per sparsity: the best validation accuracy each search had seen against the search cost
    it had spent (dense-parent epochs, log scale), mean over seeds step by step; every other arm
    that spent something as one marker (its mean cost, the mean best validation accuracy of
    its trials); `random`, which spends nothing, as a dotted line."""
    sparsities = sorted({s["sparsity"] for s in steps})
    fig, axes = panel_grid(len(sparsities), (4.6, 3.4), sharey=True)
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
    most = max((len({c.arm for c in chosen if c.baseline == b}) for b in baselines), default=1)
    row = max(0.45, slot_inches(most))
    fig, axes = new_figure(len(baselines), panel=(4.6, 1.2 + len(sparsities) * row))
    for ax, baseline in zip(axes, baselines):
        arms = list(dict.fromkeys(c.arm for c in chosen if c.baseline == baseline))
        offsets = dict(zip(arms, slot_offsets(len(arms), row)))
        for c in (c for c in chosen if c.baseline == baseline):
            style = styles[c.arm]
            mean, low, high = scale * c.mean_diff, scale * c.ci_low, scale * c.ci_high
            # A degenerate interval (every paired difference equal) can put its bound a rounding
            # error past the mean; matplotlib refuses negative bar lengths, so those draw as 0.
            ax.errorbar(mean, sparsities.index(c.sparsity) + offsets[c.arm],
                        xerr=[[max(mean - low, 0.0)], [max(high - mean, 0.0)]], color=style.color, marker=style.marker,
                        markersize=MARKER, capsize=3, linestyle="none", label=_label(c.arm),
                        markerfacecolor=style.color if c.p_holm < ALPHA else "white")
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
    """Test accuracy against parameter count and against FLOPs (log x), per arm; the arms that
    share a cost stand side by side, and the two panels stack when side by side they would not fit."""
    arms = _by_arm(summary, styles)
    costs = {cost: {arm: [getattr(r, cost) for r in rows] for arm, rows in arms.items()} for cost in ("params", "flops")}
    width = max(4.2, min(MAX_PANEL, max(map(log_inches, costs.values())) + FRAME))
    fig, axes = _pair(width, 3.4, PANEL[0], sharey=True)
    for ax, (cost, label) in zip(axes, (("params", "parameters"), ("flops", "FLOPs per example"))):
        ax.set_xscale("log")
        shifted, limits = log_dodge(costs[cost], width - FRAME)
        for arm, arm_rows in arms.items():
            _accuracy_series(ax, shifted[arm], arm_rows, arm, styles[arm])
        ax.set_xlim(*limits)
        style_axes(ax, f"{label} (log scale)", "test accuracy (%)" if ax.get_subplotspec().is_first_col() else None)
    add_legend(fig, axes, styles)
    return fig


def speed(rows: list[dict], styles: dict[str, Style]) -> Figure:
    """Measured latency per arm (log x): test accuracy against it (means over seeds per sparsity,
    95% t-intervals), and each trial's FLOPs against it, with the line where latency falls in
    proportion to FLOPs from the dense parent's (what FLOPs predict)."""
    measured = [r for r in rows if r.get("latency_ms") is not None]
    arms = list(dict.fromkeys(r["arm"] for r in measured))
    cells = {arm: [[r for r in measured if r["arm"] == arm and r["sparsity"] == s]
                   for s in sorted({r["sparsity"] for r in measured if r["arm"] == arm})] for arm in arms}
    latencies = {arm: [float(np.mean([r["latency_ms"] for r in cell])) for cell in cells[arm]] for arm in arms}
    width = max(4.4, min(MAX_PANEL, log_inches(latencies) + FRAME))
    fig, axes = _pair(width, 3.4, 4.4)
    shifted, limits = log_dodge(latencies, width - FRAME)
    for arm in arms:
        mine = [r for r in measured if r["arm"] == arm]
        intervals = [mean_interval([r["test_acc"] for r in cell]) for cell in cells[arm]]
        errors = [100 * _half(i) for i in intervals]
        axes[0].errorbar(shifted[arm], [100 * i.mean for i in intervals], yerr=errors if any(errors) else None,
                         color=styles[arm].color, marker=styles[arm].marker, markersize=MARKER, capsize=3,
                         linewidth=1.4, label=_label(arm))
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
    axes[0].set_xlim(*limits)
    axes[1].set_yscale("log")
    extra = [h for h in axes[1].get_lines() if h.get_label().startswith("latency")]
    add_legend(fig, axes, styles, extra)
    return fig


def probe_quality(audits: list[dict], styles: dict[str, Style]) -> Figure:
    """Probe score against the trained validation accuracy of the audited candidates, one
    panel per sparsity, one series per auditing arm. Scores are not comparable across probes or
    seeds, so each is shown as its percentile rank among its seed's audited candidates."""
    sparsities = sorted({a["sparsity"] for a in audits})
    fig, axes = panel_grid(len(sparsities), (4.0, 3.3))
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
        style_axes(ax, "probe score, percentile rank within seed",
                   "trained val accuracy (%)" if ax.get_subplotspec().is_first_col() else None, f"sparsity {sparsity:g}")
    add_legend(fig, axes, styles)
    return fig


# shared helpers ---------------------------------------------------------------------------
def new_figure(ncols: int, nrows: int = 1, *, panel: tuple[float, float] = PANEL, sharey: bool = False):
    """A constrained-layout figure of ncols x nrows panels (room below for the legend)."""
    fig = Figure(figsize=(panel[0] * ncols, panel[1] * nrows + 0.5), layout="constrained")
    return fig, list(fig.subplots(nrows, ncols, sharey=sharey, squeeze=False).ravel())


def panel_grid(count: int, panel: tuple[float, float], sharey: bool = False):
    """A figure of `count` panels (one per sparsity, say) in balanced rows no wider than PAGE;
    returns it and the `count` panels (any left over in the grid hidden)."""
    nrows = math.ceil(count / max(1, int(PAGE // panel[0])))
    fig, axes = new_figure(math.ceil(count / nrows), nrows, panel=panel, sharey=sharey)
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes[:count]


def style_axes(ax: Axes, xlabel: str, ylabel: str | None = None, title: str | None = None) -> None:
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize="medium")
    ax.grid(alpha=0.3, linewidth=0.6)
    ax.spines[["top", "right"]].set_visible(False)


def add_legend(fig: Figure, axes: list[Axes], styles: dict[str, Style], extra: list[Line2D] = ()) -> None:
    """One legend for the whole figure, below the panels, each arm once in the styles' order, in
    as many columns as the figure's width holds; the figure grows by the legend's rows."""
    found = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            found.setdefault(label, handle)
    handles = {_label(arm): found[_label(arm)] for arm in styles if _label(arm) in found}
    handles.update({h.get_label(): h for h in extra})
    column = 0.6 + 0.085 * max(map(len, handles), default=0)  # inches: the handle, then the label at 10 pt
    ncols = max(1, min(len(handles), int((fig.get_figwidth() - 0.3) // column)))
    rows = math.ceil(len(handles) / ncols)
    fig.set_figheight(fig.get_figheight() + max(0.0, 0.26 * rows - 0.4))
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncols=ncols, frameon=False)


def slot_offsets(count: int, gap: float) -> list[float]:
    """Where each of `count` arms sits around its position, in units of the gap between
    neighbouring positions (`gap` inches long): centred, neighbours STEP points apart, or closer
    where SLOT of the gap cannot hold them so."""
    spacing = min(SLOT / max(count, 1), STEP / 72 / gap)
    return [(i - (count - 1) / 2) * spacing for i in range(count)]


def slot_inches(count: int) -> float:
    """The gap between neighbouring positions that keeps `count` arms' markers STEP points apart."""
    return count * STEP / SLOT / 72


def _decades(series: dict[str, list[float]]) -> tuple[float, float, float]:
    """The lowest and highest log10 of the values and the smallest gap between neighbouring
    positions (values within SAME_POSITION decades share one; 1 when there is one position)."""
    logs = sorted({math.log10(x) for xs in series.values() for x in xs})
    positions = [logs[0]]
    for value in logs[1:]:
        if value - positions[-1] > SAME_POSITION:
            positions.append(value)
    return logs[0], logs[-1], min((b - a for a, b in zip(positions, positions[1:])), default=1.0)


def log_inches(series: dict[str, list[float]], alone: str = "dense") -> float:
    """The inches of log axis that keep the arms at one position STEP points apart (`alone`, which
    shares no position, takes no place among them)."""
    low, high, gap = _decades(series)
    return (high - low + gap) / gap * slot_inches(len(set(series) - {alone}))


def log_dodge(series: dict[str, list[float]], inches: float,
              alone: str = "dense") -> tuple[dict[str, list[float]], tuple[float, float]]:
    """For a log axis `inches` long: each arm's values shifted to its place around its position
    (the `alone` arm, which shares no position, stays put), and the axis limits (half a gap
    beyond the outermost positions)."""
    low, high, gap = _decades(series)
    arms = [arm for arm in series if arm != alone]
    offsets = {alone: 0.0, **dict(zip(arms, slot_offsets(len(arms), inches * gap / (high - low + gap))))}
    shifted = {arm: [x * 10 ** (offsets[arm] * gap) for x in xs] for arm, xs in series.items()}
    return shifted, (10 ** (low - gap / 2), 10 ** (high + gap / 2))


def _pair(width: float, height: float, default: float, sharey: bool = False):
    """A figure of two panels `width` inches wide: side by side up to `default` inches, else stacked."""
    side = width <= default
    return new_figure(*((2, 1) if side else (1, 2)), panel=(width, height), sharey=sharey and side)


def add_band(ax: Axes, x, low: list[float], high: list[float], color: str, scale: float = 100.0) -> None:
    """A 95% band (skipped where it has no width, e.g. with one seed); accuracies shown in %."""
    if any(h > l for l, h in zip(low, high)):
        ax.fill_between(x, [scale * v for v in low], [scale * v for v in high], color=color, alpha=0.18, linewidth=0)


def _accuracy_series(ax: Axes, x: list[float], rows: list[ArmRow], arm: str, style: Style) -> None:
    """Mean test accuracy (%) of one arm with 95% error bars (none with one seed)."""
    errors = [100 * _half(r.test_acc) for r in rows]
    ax.errorbar(x, [100 * r.test_acc.mean for r in rows], yerr=errors if any(errors) else None, color=style.color,
                marker=style.marker, markersize=MARKER, capsize=3, linewidth=1.4, label=_label(arm))


def _dense_reference(ax: Axes, summary: list[ArmRow], style: Style) -> None:
    for row in (r for r in summary if r.arm == "dense"):
        mean, half = 100 * row.test_acc.mean, 100 * _half(row.test_acc)
        ax.axhline(mean, color=style.color, linestyle="--", linewidth=1.2, label=_label("dense"))
        if half:
            ax.axhspan(mean - half, mean + half, color=style.color, alpha=0.12, linewidth=0)


def _by_arm(summary: list[ArmRow], styles: dict[str, Style]) -> dict[str, list[ArmRow]]:
    """Each arm's rows by sparsity, the arms in the styles' (and so the legend's) order."""
    arms: dict[str, list[ArmRow]] = {}
    for row in summary:
        arms.setdefault(row.arm, []).append(row)
    return {arm: sorted(arms[arm], key=lambda r: r.sparsity) for arm in styles if arm in arms}


def _half(interval: Interval) -> float:
    return 0.0 if math.isnan(interval.half_width) else interval.half_width


def _label(arm: str) -> str:
    return "dense (parent)" if arm == "dense" else arm
