"""Terminal output of the CLI: a rich progress bar and the summary tables."""

from __future__ import annotations

import math

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from .analysis.paired import compare
from .analysis.summary import Interval, arm_rows
from .experiment import Progress as RunProgress


class RichProgress(RunProgress):
    """One bar per phase of the run, drawn on stderr."""

    def __init__(self, console: Console):
        self.bar = Progress(
            TextColumn("{task.description:<15}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        self.task = None

    def __enter__(self):
        self.bar.start()
        return self

    def __exit__(self, *exc):
        self.bar.stop()
        return False

    def phase(self, label: str, total: int) -> None:
        if self.task is not None:
            self.bar.update(self.task, completed=self.bar.tasks[self.task].total)
        self.task = self.bar.add_task(label, total=max(total, 1) if total else 0)

    def advance(self, amount: int) -> None:
        self.bar.advance(self.task, amount)


def _half_width(interval: Interval) -> str:
    return "n/a" if math.isnan(interval.half_width) else f"{100 * interval.half_width:.2f}"


def summary_table(rows: list[dict], title: str) -> Table:
    """The per (sparsity, arm) table: mean test accuracy over seeds with its 95% t-interval."""
    table = Table(title=title, title_justify="left")
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


def verdict_lines(rows: list[dict]) -> list[str]:
    """One honest sentence per paired comparison (every arm vs random and vs dense)."""
    return [c.verdict for c in compare(rows)]
