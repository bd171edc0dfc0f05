"""What choosing each trial's mask spent (arms/training.py's `Spend`), stored as records of its
experiment by trial key: `cost` in dense-parent epochs and `seconds`. The first run that plans a
trial records it; a rerun keeps that record, so the export does not drift with later timings."""

from __future__ import annotations

from ..store import Store

SEARCH = "search"
"""The record type."""


def record_search(store: Store, experiment: str, spends: dict[str, tuple[float, float | None]]) -> None:
    """Store (dense-parent epochs, seconds) of each trial key that has no record yet."""
    known = store.records(experiment, SEARCH)
    store.write_records(experiment, SEARCH, {key: {"cost": cost, "seconds": seconds}
                                             for key, (cost, seconds) in spends.items() if key not in known})


def add_search_columns(store: Store, rows: list[dict]) -> None:
    """Set `search_cost` and `search_seconds` of every export row (None where not recorded: a
    trial planned before search costs were recorded, until a rerun plans it again)."""
    records: dict[str, dict] = {}
    for experiment in {row["experiment"] for row in rows}:
        records.update(store.records(experiment, SEARCH))
    for row in rows:
        spend = records.get(row["trial_key"], {})
        row["search_cost"], row["search_seconds"] = spend.get("cost"), spend.get("seconds")
