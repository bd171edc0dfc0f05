"""Everything the report shows, read from the store and computed once."""

from __future__ import annotations

from collections import defaultdict

from ..config import quick_note, tomllib
from dataclasses import dataclass

from ..analysis.convergence import dense_target_cell, mean_curves, val_auc
from ..analysis.export import export_rows
from ..analysis.paired import Comparison, compare
from ..analysis.summary import ArmRow, arm_rows, diverged_note
from ..errors import SparsearchError
from ..mask.anytime import anytime_rows
from ..mask.audits import audit_rows
from ..store import Store

BASELINES = ("random", "dense")


@dataclass(frozen=True)
class ReportData:
    experiment: str
    config: str  # the TOML the experiment last ran with
    space: str  # "node" or "weight": what the sparsities count
    rows: list[dict]  # export rows, one per trained network
    summary: list[ArmRow]  # per (sparsity, arm)
    auc: dict[tuple[float, str], float]  # mean validation AUC per (sparsity, arm)
    curves: dict[tuple[float, str], tuple]  # mean val accuracy per epoch with its 95% band
    dense_target: dict[tuple[float, str], str]  # epochs to the dense parent's target, as shown
    comparisons: list[Comparison]
    notes: list[str]  # what the report could not compute, and why
    audits: list[dict]  # probe audits (random_search with audit = N), one per arm, sparsity, seed
    anytime: list[dict]  # search trajectories (mask/anytime.py), one row per step

    @property
    def arms(self) -> list[str]:
        return list(dict.fromkeys(row.arm for row in self.summary))

    @property
    def seeds(self) -> int:
        return max(row.test_acc.n for row in self.summary)


def collect(store: Store, experiment: str) -> ReportData:
    """Read the experiment's trials and curves and compute every statistic the report shows."""
    config = store.config_of(experiment)
    rows = export_rows(store, experiment)
    if not rows:
        raise SparsearchError(f"experiment {experiment!r} has no trained networks yet; run it first")
    curves = store.curves(experiment)
    summary = arm_rows(rows)
    settings = tomllib.loads(config)
    return ReportData(
        experiment=experiment,
        config=config,
        space=settings["search"]["space"],
        rows=rows,
        summary=summary,
        auc=_mean_auc(rows, curves),
        curves=mean_curves(rows, curves),
        dense_target=_dense_target(rows),
        comparisons=compare(rows, BASELINES),
        notes=_notes(store, experiment, rows, summary, quick_note(experiment, settings["train"]["epochs"])),
        audits=audit_rows(store, experiment),
        anytime=anytime_rows(store, experiment),
    )


def _mean_auc(rows: list[dict], curves: dict[str, dict]) -> dict[tuple[float, str], float]:
    groups: dict[tuple[float, str], list[float]] = defaultdict(list)
    for row in rows:
        groups[(row["sparsity"], row["arm"])].append(val_auc(curves[row["trial_key"]]["val_acc"]))
    return {key: sum(values) / len(values) for key, values in groups.items()}


def _dense_target(rows: list[dict]) -> dict[tuple[float, str], str]:
    groups: dict[tuple[float, str], list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["sparsity"], row["arm"])].append(row)
    return {key: dense_target_cell(group) for key, group in groups.items()}


def _notes(store: Store, experiment: str, rows: list[dict], summary: list[ArmRow], quick: str | None) -> list[str]:
    notes = [quick] if quick else []
    status = next(e for e in store.experiments() if e["name"] == experiment)
    if status["done"] < status["planned"]:
        notes.append(f"The experiment is incomplete: {status['done']} of {status['planned']} planned trials are done.")
    arms = {row.arm for row in summary}
    if not arms - {"dense"}:
        notes.append("No sparse arm: there is nothing to compare.")
    else:
        notes.extend(f"No {b} arm: comparisons against {b} are skipped." for b in BASELINES if b not in arms)
    if max(row.test_acc.n for row in summary) < 2:
        notes.append("Only one seed: no confidence intervals, bands or tests.")
    diverged = diverged_note(rows)
    if diverged:
        notes.append(diverged)
    return notes
