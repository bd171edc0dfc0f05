"""The anytime record of a mask study's searches: per arm, sparsity and seed, the best
validation accuracy a search had seen against the search cost it had spent (dense-parent
epochs), after each of its trainings (oracle: each candidate, in the stream's order;
successive halving: each rung; evolution: each generation). The report draws it."""

from __future__ import annotations

from ..store import PlanLink, Store, record_key

ANYTIME = "anytime"
"""The record type."""

ANYTIME_COLUMNS = ("experiment", "arm", "sparsity", "seed", "cost", "best_val_acc")


def record_anytime(store: Store, experiment: str, trajectories: list[tuple[PlanLink, tuple]]) -> None:
    """Replace the experiment's anytime records: (slot as a link, its (cost, accuracy) steps) each."""
    values = {record_key(link.arm, link.sparsity, link.seed): {"arm": link.arm, "sparsity": link.sparsity,
                                                                "seed": link.seed, "steps": [list(s) for s in steps]}
              for link, steps in trajectories}
    store.write_records(experiment, ANYTIME, values, replace_all=True)


def anytime_rows(store: Store, experiment: str) -> list[dict]:
    """One row per step of every search (ANYTIME_COLUMNS), ordered by arm, sparsity, seed and cost."""
    rows = []
    for value in sorted(store.records(experiment, ANYTIME).values(), key=lambda v: (v["arm"], v["sparsity"], v["seed"])):
        rows += [{"experiment": experiment, "arm": value["arm"], "sparsity": value["sparsity"], "seed": value["seed"],
                  "cost": cost, "best_val_acc": accuracy} for cost, accuracy in value["steps"]]
    return rows
