"""Terminal output of the CLI: a rich progress bar and the summary tables."""

from __future__ import annotations

import math
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from .analysis.paired import METRICS, MIN_SEEDS, Comparison, difference, outcome
from .analysis.summary import Interval, arm_rows, diverged_note
from .progress import Progress as RunProgress

if TYPE_CHECKING:
    from .supernet.analysis import SupernetSummary


class RichProgress(RunProgress):
    """One bar per phase of the run, drawn on stderr, below a `header` line printed when the
    first phase starts (after everything that can be refused was checked); nothing is drawn
    before a phase starts, and a `transient` bar is cleared when done."""

    def __init__(self, console: Console, header: str | None = None, transient: bool = False):
        self.header = header
        self.bar = Progress(
            TextColumn("{task.description:<15}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=transient,
        )
        self.task = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.task is not None:
            self.bar.stop()
        return False

    def phase(self, label: str, total: int) -> None:
        if self.task is None:
            self.bar.start()
        if self.header is not None:
            self.bar.console.print(self.header, markup=False, highlight=False)
            self.header = None
        if self.task is not None:
            self.bar.update(self.task, completed=self.bar.tasks[self.task].total)
        self.task = self.bar.add_task(label, total=max(total, 1) if total else 0)

    def advance(self, amount: int) -> None:
        self.bar.advance(self.task, amount)


def watched_console() -> Console:
    """The console default progress bars are drawn on: stderr (in a notebook, the cell's output)."""
    return Console(stderr=True)


def watched(console: Console) -> bool:
    """Whether someone watches `console`: a Jupyter notebook, or an interactive terminal (a real
    one: FORCE_COLOR alone in CI does not count; TTY_INTERACTIVE=0 says no)."""
    isatty = getattr(console.file, "isatty", None)
    return console.is_jupyter or (console.is_interactive and isatty is not None and isatty())


def shown_progress(progress: RunProgress | bool | None) -> AbstractContextManager[RunProgress]:
    """What a library call reports its progress to, as its `progress` argument asks: None, bars
    where someone watches (`watched`) and nothing elsewhere (pytest, CI, a pipe); True, bars
    always; False, nothing; a Progress object, that object."""
    if progress is None or progress is True:
        console = watched_console()
        if progress or watched(console):
            return RichProgress(console)
    return nullcontext(RunProgress() if progress is None or progress is False else progress)


def _half_width(interval: Interval) -> str:
    return "n/a" if math.isnan(interval.half_width) else f"{100 * interval.half_width:.2f}"


def summary_table(rows: list[dict], title: str, note: str | None = None) -> Table:
    """The per (sparsity, arm) table: mean test accuracy over seeds with its 95% t-interval;
    its caption is `note` (e.g. that this was a quick run) and how many trials diverged, if any."""
    caption = "\n".join(line for line in (note, diverged_note(rows)) if line) or None
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for header in ("sparsity", "arm", "seeds", "test acc %", "95% CI ±", "epochs to target", "weight sparsity", "params", "FLOPs"):
        table.add_column(header, justify="left" if header == "arm" else "right", no_wrap=header == "arm")
    for row in arm_rows(rows):
        table.add_row(
            f"{row.sparsity:g}",
            row.arm,
            str(row.test_acc.n),
            f"{100 * row.test_acc.mean:.2f}",
            _half_width(row.test_acc),
            f"{row.epochs_to_target:.1f}",
            f"{row.weight_sparsity:.3f}",
            f"{row.params:,.0f}",
            f"{row.flops:,.0f}",
        )
    return table


def speed_table(rows: list[dict], title: str) -> Table | None:
    """Per (sparsity, arm): accuracy, FLOPs and measured latency, each cost also as the dense
    parent's over this one's (None when no trial was measured)."""
    from .analysis.speed import speed_rows

    speeds = speed_rows(rows)
    if not speeds:
        return None
    devices = sorted({r["latency_device"] for r in rows if r.get("latency_device")})
    table = Table(title=title, title_justify="left", caption=f"measured on {'; '.join(devices)}; ×: the dense parent's "
                  "FLOPs or latency over this arm's (FLOPs predict, latency measures)", caption_justify="left")
    for header in ("sparsity", "arm", "measured", "test acc %", "FLOPs", "FLOPs ×", "latency ms", "latency ×",
                   "batch 1 ms", "kernel"):
        table.add_column(header, justify="left" if header in ("arm", "kernel") else "right", no_wrap=True)
    for row in speeds:
        table.add_row(f"{row.sparsity:g}", row.arm, str(row.measured), f"{100 * row.test_acc:.2f}", f"{row.flops:,.0f}",
                      _ratio(row.flops_ratio), f"{row.latency_ms:.4g}", _ratio(row.speedup), f"{row.latency_b1_ms:.4g}",
                      row.kernels)
    return table


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def probe_quality_table(audits: list[dict], title: str) -> Table:
    """Per (sparsity, arm): how the arm's probe ranked its audited, fully trained candidates."""
    from .analysis.probe_quality import probe_quality

    table = Table(title=title, title_justify="left", caption="τ, ρ: Kendall and Spearman rank correlation of the probe "
                  "score with trained accuracy; regret: points the probe's pick is below the best of the N; means over "
                  "seeds (95% intervals: report, Study.probe_quality())", caption_justify="left")
    for header in ("sparsity", "arm", "probe", "seeds × N", "τ val", "ρ val", "τ test", "ρ test", "regret val pts",
                   "regret test pts"):
        table.add_column(header, justify="left" if header in ("arm", "probe") else "right", no_wrap=True)
    for row in probe_quality(audits):
        table.add_row(
            f"{row.sparsity:g}", row.arm, row.probe, f"{row.regret_val.n} × {row.candidates}",
            *(_mean(i, 1, 2) for i in (row.kendall_val, row.spearman_val, row.kendall_test, row.spearman_test)),
            *(_mean(i, 100, 1) for i in (row.regret_val, row.regret_test)),
        )
    return table


def _mean(interval: Interval, scale: float, digits: int) -> str:
    return "n/a" if math.isnan(interval.mean) else f"{scale * interval.mean:.{digits}f}"


def verdicts(comparisons: list[Comparison], title: str, sentences: bool = False) -> list:
    """What a terminal shows of paired comparisons: one table (a row each: sparsity, arm,
    baseline, metric, difference, CI, Holm p, verdict word) under `title`, or with `sentences`
    the title and one honest sentence each. The comparisons with too few seeds for a verdict
    are said once, in one line."""
    if not comparisons:
        return []
    few = [c for c in comparisons if c.n < MIN_SEEDS]
    shown = [c for c in comparisons if c.n >= MIN_SEEDS] if len(few) >= 2 else comparisons
    note = None
    if len(few) >= 2:
        seeds = {c.n for c in few}
        how_many = (f"only {min(seeds)} seed{'s' if min(seeds) != 1 else ''}" if len(seeds) == 1
                    else f"fewer than {MIN_SEEDS} seeds")
        note = (f"{len(few)} comparisons have {how_many}, too few for the test to have power: no verdict "
                f"(their numbers: sparsearch report, Study.compare())")
    if sentences or not shown:
        return [f"{title}:", *(f"  {c.verdict}" for c in shown), *([f"  {note}"] if note else [])]
    per_sparsity = any(c.sparsity is not None for c in shown)
    table = Table(title=f"{title}; --verdicts: one sentence each", title_justify="left", caption=note,
                  caption_justify="left")
    for header in ("sparsity",) * per_sparsity + ("arm", "vs", "metric", "diff", "95% CI", "Holm p", "verdict"):
        table.add_column(header, justify="right" if header in ("sparsity", "diff", "95% CI", "Holm p") else "left",
                         no_wrap=header != "metric")
    for c in shown:
        mean, interval = difference(c)
        where = [] if not per_sparsity else ["" if c.sparsity is None else f"{c.sparsity:g}"]
        table.add_row(*where, c.arm, c.baseline, METRICS[c.metric][0], mean, interval,
                      f"{c.p_holm:.2g}", outcome(c))
    return [table]


def elastic_tables(summary: SupernetSummary, title: str, note: str | None = None) -> list[Table]:
    """Hypervolume per strategy at a few evaluation counts (mean over seeds with 95% interval;
    `note` as its caption), evaluations needed to reach random's final hypervolume, and the LINAS
    predictor's tau."""
    at = summary.at
    shown = sorted({0, len(at) // 2, len(at) - 1})
    hv = Table(title=f"{title}: hypervolume after n real evaluations (mean ± 95% CI over seeds)", title_justify="left",
               caption=note, caption_justify="left")
    hv.add_column("strategy")
    for i in shown:
        hv.add_column(f"n = {at[i]}", justify="right")
    hv.add_column("reaches random's final HV at (median n; seeds)", justify="right")
    reach = summary.to_reach_random
    for strategy, curve in summary.mean_curves.items():
        cells = [f"{curve[i].mean:.4f} ± {_hw(curve[i])}" for i in shown]
        hits = [n for n in reach.get(strategy, []) if n is not None]
        cells.append(f"{int(np.median(hits))}; {len(hits)}/{len(reach[strategy])}" if hits else
                     ("never" if strategy in reach else "n/a"))
        hv.add_row(strategy, *cells)
    tables = [hv]
    if summary.taus:
        taus = Table(title="LINAS predictor: Kendall tau on each round's new configurations (mean over seeds)",
                     title_justify="left")
        taus.add_column("strategy")
        taus.add_column("tau per round (first objective: 1 - accuracy)")
        for strategy, rounds in summary.taus.items():
            taus.add_row(strategy, ", ".join(f"{r[0]:.2f}" for r in rounds))
        tables.append(taus)
    return tables


def _hw(interval: Interval) -> str:
    return "n/a" if math.isnan(interval.half_width) else f"{interval.half_width:.4f}"
