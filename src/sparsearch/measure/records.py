"""The stored measurements of an experiment's trials, read back: the export's `latency_*`
columns and the per-kernel table. Reading them needs no torch (measure/trials.py measures)."""

from __future__ import annotations

from ..store import Store

SPEED, SHOWN = "speed", "speed-setup"
"""The record types: one measured trial under one setup; the setup the export shows (the last measured under)."""

LATENCY_COLUMNS = ("latency_ms", "latency_b1_ms", "latency_iqr_ms", "latency_kernel", "latency_device")


KERNEL_COLUMNS = ("experiment", "arm", "sparsity", "seed", "weight_sparsity", "kernel", "latency_ms", "latency_b1_ms",
                  "latency_iqr_ms", "fastest", "latency_device", "trial_key")


def latest_measurements(store: Store, experiment: str) -> dict[str, dict]:
    """The experiment's measurement records under the setup it was last measured under, by trial key."""
    shown = store.records(experiment, SHOWN, SHOWN).get(SHOWN)
    return {r["trial"]: r for r in store.records(experiment, SPEED).values() if r["setup"] == shown}


def kernel_rows(rows: list[dict], store: Store) -> list[dict]:
    """One row per export row and kernel timed (KERNEL_COLUMNS): every kernel's figures, so a
    reader sees e.g. at which sparsity CSR overtakes masked dense."""
    out = []
    for experiment in dict.fromkeys(row["experiment"] for row in rows):
        chosen = latest_measurements(store, experiment)
        for row in (row for row in rows if row["experiment"] == experiment and row["trial_key"] in chosen):
            record = chosen[row["trial_key"]]
            out += [{**{k: row[k] for k in ("experiment", "arm", "sparsity", "seed", "weight_sparsity", "trial_key")},
                     "kernel": name, "latency_ms": k["ms"], "latency_b1_ms": k["b1_ms"], "latency_iqr_ms": k["iqr_ms"],
                     "fastest": name == record["kernel"], "latency_device": record["setup"]["device"]}
                    for name, k in record["kernels"].items()]
    return out


def add_latency_columns(store: Store, rows: list[dict]) -> None:
    """Set LATENCY_COLUMNS of every export row from the setup its experiment was last measured
    under (None where a trial was not measured under it)."""
    for experiment in {row["experiment"] for row in rows}:
        chosen = latest_measurements(store, experiment)
        for row in (row for row in rows if row["experiment"] == experiment):
            record = chosen.get(row["trial_key"])
            values = (None,) * len(LATENCY_COLUMNS) if record is None else (
                record["ms"], record["b1_ms"], record["iqr_ms"], record["kernel"], record["setup"]["device"])
            row.update(zip(LATENCY_COLUMNS, values))
