"""A mask study's export rows: the store's stored columns of every planned trial, the metrics
derived from them (`epochs_to_dense_target`, analysis/convergence.py) and what choosing each
trial's mask spent (`search_cost`, `search_seconds`: analysis/search_cost.py) and each trial's
measured latency (`latency_*`: measure/trials.py)."""

from __future__ import annotations

from ..measure.records import LATENCY_COLUMNS, add_latency_columns
from ..store import STORED_COLUMNS, Store
from .convergence import epochs_to_dense_target
from .search_cost import add_search_columns

EXPORT_COLUMNS = (*STORED_COLUMNS, "epochs_to_dense_target", "search_cost", "search_seconds", *LATENCY_COLUMNS)


def export_rows(store: Store, experiment: str | None = None) -> list[dict]:
    """One row per planned, completed trial (EXPORT_COLUMNS) of `experiment` (or of every
    experiment), ordered by experiment, sparsity, arm and seed."""
    rows, val_acc = store.trial_rows(experiment)
    for row, epochs in zip(rows, epochs_to_dense_target(rows, val_acc)):
        row["epochs_to_dense_target"] = epochs
    add_search_columns(store, rows)
    add_latency_columns(store, rows)
    return rows
