"""What a super-network search stores, as the store's generic records: each search with its
evaluations (one planned unit of the experiment), each seed's retrained front, trained
super-networks (an artifact of weights and a shared record of their curves) and the latency
cache (shared records, per thread count)."""

from __future__ import annotations

import json
from collections.abc import MutableMapping

from typing import TYPE_CHECKING

from ..store import Store, record_key

if TYPE_CHECKING:
    from torch import Tensor

SEARCH, RETRAINED, SUPERNET, LATENCY = "search", "retrained", "supernet", "latency"
"""The record types."""

EVALUATION_COLUMNS = ("experiment", "strategy", "seed", "idx", "config", "widths", "val_acc", "val_loss", "params",
                      "flops", "latency")


def _real(value) -> float | None:
    return None if value is None else float(value)


def supernet(store: Store, key: str) -> tuple[dict[str, Tensor], dict] | None:
    """A stored super-network's weights and training curves, or None."""
    curves = store.shared(SUPERNET, key)
    weights = store.artifacts([key]).get(key) if curves else None
    return None if weights is None else (weights, curves[key])


def record_supernet(store: Store, key: str, weights: dict[str, Tensor], curves: dict) -> None:
    store.record_artifacts({key: weights})
    store.write_shared(SUPERNET, {key: curves})


def search_key(store: Store, experiment: str, strategy: str, seed: int) -> str | None:
    """The key of the stored search of `strategy` and `seed`, or None."""
    found = store.records(experiment, SEARCH, record_key(strategy, seed))
    return next((value["key"] for value in found.values()), None)


def record_search(store: Store, experiment: str, strategy: str, seed: int, key: str, rounds: dict,
                  rows: list[dict]) -> None:
    """One search and all its evaluations (replacing an outdated one); it uses its super-network."""
    evaluations = [{"config": r["config"], "widths": r["widths"], "val_acc": float(r["val_acc"]),
                    "val_loss": _real(r["val_loss"]), "params": int(r["params"]), "flops": int(r["flops"]),
                    "latency": _real(r["latency"])} for r in rows]
    name = record_key(strategy, seed)
    store.write_records(experiment, SEARCH, {name: {"strategy": strategy, "seed": seed, "key": key, "rounds": rounds,
                                                    "evaluations": evaluations}},
                        unit=True, artifacts={name: rounds.get("supernet")})


def _searches(store: Store, experiment: str) -> list[dict]:
    return sorted(store.records(experiment, SEARCH).values(), key=lambda s: (s["strategy"], s["seed"]))


def searches(store: Store, experiment: str) -> list[dict]:
    """Every search of an experiment (strategy, seed, rounds), by strategy and seed."""
    return [{"strategy": s["strategy"], "seed": s["seed"], "rounds": s["rounds"]} for s in _searches(store, experiment)]


def evaluation_rows(store: Store, experiment: str) -> list[dict]:
    """Every evaluated configuration of an experiment (EVALUATION_COLUMNS), in evaluation order."""
    return [{"experiment": experiment, "strategy": s["strategy"], "seed": s["seed"], "idx": i, **evaluation}
            for s in _searches(store, experiment) for i, evaluation in enumerate(s["evaluations"])]


def with_blocks(rows: list[dict], depths: list[int] | None) -> list[dict]:
    """Evaluation rows with `blocks` after `widths` where the experiment has elastic depth
    (`[supernet] depths`): the blocks each stage keeps, from the configuration's last entries
    (`widths` lists every group's width, those of dropped blocks too, which change nothing).
    Without elastic depth, the rows as they are."""
    if not depths:
        return rows
    out = []
    for row in rows:
        shown = {}
        for key, value in row.items():
            shown[key] = value
            if key == "widths":
                shown["blocks"] = [depths[c] for c in row["config"][len(row["widths"]):]]
        out.append(shown)
    return out


def record_retrained(store: Store, experiment: str, seed: int, rows: list[tuple[list[int], float, float]]) -> None:
    """Replace the seed's retrained front configurations: (config, inherited, retrained accuracy) each."""
    by_config = {tuple(c): {"seed": seed, "config": list(c), "inherited_acc": float(a), "retrained_acc": float(b)}
                 for c, a, b in rows}
    store.write_records(experiment, RETRAINED, {record_key(seed): list(by_config.values())})


def retrained(store: Store, experiment: str) -> list[dict]:
    """Every retrained front configuration (seed, config, inherited and retrained accuracy), by seed and config."""
    rows = [row for found in store.records(experiment, RETRAINED).values() for row in found]
    return sorted(rows, key=lambda r: (r["seed"], json.dumps(r["config"])))


class LatencyRows(MutableMapping):
    """The cached per-layer latencies measured with `threads` threads, as a mutable mapping
    (fan_in, fan_out, batch, relu) -> seconds (supernet/latency.py's `LatencyTable` fills it)."""

    def __init__(self, store: Store, threads: int):
        self.store, self.threads = store, threads

    def _key(self, key) -> str:
        fan_in, fan_out, batch, relu = key
        return record_key(fan_in, fan_out, batch, bool(relu), self.threads)

    def __getitem__(self, key) -> float:
        found = self.store.shared(LATENCY, self._key(key))
        if not found:
            raise KeyError(key)
        return next(iter(found.values()))

    def __setitem__(self, key, seconds) -> None:
        self.store.write_shared(LATENCY, {self._key(key): float(seconds)})

    def __delitem__(self, key):
        raise TypeError("latency entries are never deleted")

    def _entries(self) -> list[tuple]:
        return [tuple(k[:4]) for k in map(json.loads, self.store.shared(LATENCY)) if k[4] == self.threads]

    def __iter__(self):
        return ((a, b, c, bool(d)) for a, b, c, d in self._entries())

    def __len__(self) -> int:
        return len(self._entries())
