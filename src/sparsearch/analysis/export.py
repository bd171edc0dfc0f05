"""A mask study's export rows: the store's stored columns of every planned trial plus the
metrics derived from them (`epochs_to_dense_target`, analysis/convergence.py)."""

from __future__ import annotations

from ..store import STORED_COLUMNS, Store
from .convergence import epochs_to_dense_target

EXPORT_COLUMNS = (*STORED_COLUMNS, "epochs_to_dense_target")


def export_rows(store: Store, experiment: str | None = None) -> list[dict]:
    """One row per planned, completed trial (EXPORT_COLUMNS) of `experiment` (or of every
    experiment), ordered by experiment, sparsity, arm and seed."""
    rows, val_acc = store.trial_rows(experiment)
    for row, epochs in zip(rows, epochs_to_dense_target(rows, val_acc)):
        row["epochs_to_dense_target"] = epochs
    return rows
