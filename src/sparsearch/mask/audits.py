"""Probe audits of a mask study (`[arms.random_search] audit = N`), stored as records of their
experiment: per arm, sparsity and seed, how the probe ranked fully trained candidates."""

from __future__ import annotations

import math

from typing import TYPE_CHECKING

from ..store import PlanLink, Store, record_key

if TYPE_CHECKING:
    from ..analysis.probe_quality import ProbeAudit

AUDIT = "audit"
"""The record type."""

REALS = ("kendall_val", "spearman_val", "kendall_test", "spearman_test", "regret_val", "regret_test")
AUDIT_FIELDS = ("probe", "n", *REALS, "scores", "val_acc", "test_acc")
AUDIT_COLUMNS = ("experiment", "arm", "sparsity", "seed", *AUDIT_FIELDS)


def _real(value) -> float | None:
    """A correlation or regret as stored: a float, None where undefined (NaN)."""
    return None if value is None or math.isnan(value) else float(value)


def record_audits(store: Store, experiment: str, audits: list[tuple[PlanLink, ProbeAudit]]) -> None:
    """Replace the experiment's probe audits: (slot as a link, its audit) each."""
    values = {
        record_key(link.arm, link.sparsity, link.seed): {
            "arm": link.arm, "sparsity": link.sparsity, "seed": link.seed, "probe": audit.probe, "n": int(audit.n),
            **{name: _real(getattr(audit, name)) for name in REALS},
            "scores": audit.scores, "val_acc": audit.val_acc, "test_acc": audit.test_acc,
        }
        for link, audit in audits
    }
    store.write_records(experiment, AUDIT, values, replace_all=True)


def audit_rows(store: Store, experiment: str) -> list[dict]:
    """Every probe audit of an experiment (AUDIT_COLUMNS), ordered by arm, sparsity, seed."""
    rows = [{"experiment": experiment, **value} for value in store.records(experiment, AUDIT).values()]
    return [{c: r[c] for c in AUDIT_COLUMNS} for r in sorted(rows, key=lambda r: (r["arm"], r["sparsity"], r["seed"]))]
