"""Per-trial metrics from per-epoch curves (epochs are counted from 1)."""

from __future__ import annotations

import math
from collections import defaultdict

from .summary import mean_interval

TARGET_FRACTION = 0.95
"""epochs_to_target: first epoch whose val accuracy reaches this fraction of the trial's best;
epochs_to_dense_target: of the best of the same seed's dense parent."""
NEVER = "never"
"""epochs_to_dense_target of a trial that never reaches the dense parent's target."""


def epochs_to_reach(val_acc: list[float], target: float) -> int | None:
    """First epoch (from 1) whose validation accuracy reaches `target`; None if none does."""
    return next((e for e, acc in enumerate(val_acc, start=1) if acc >= target), None)


def trial_metrics(train_loss: list[float], val_acc: list[float], test_acc: list[float]) -> dict:
    """`tested_metrics` from per-epoch test accuracy: test_acc at the best epoch, and the last."""
    return tested_metrics(train_loss, val_acc, test_acc[best_epoch(val_acc) - 1], test_acc[-1])


def best_epoch(val_acc: list[float]) -> int:
    """The first epoch of the highest validation accuracy."""
    return val_acc.index(max(val_acc)) + 1


def tested_metrics(train_loss: list[float], val_acc: list[float], test_at_best: float, final_test: float) -> dict:
    """best_epoch (first epoch of max val accuracy), best_val_acc, test_acc at that epoch
    (`test_at_best`), final_test_acc, epochs_to_target, and status (`diverged` if any train loss
    is not finite)."""
    best_val = max(val_acc)
    epochs_to_target = epochs_to_reach(val_acc, TARGET_FRACTION * best_val)
    diverged = not all(math.isfinite(loss) for loss in train_loss)
    return {
        "best_epoch": best_epoch(val_acc),
        "best_val_acc": best_val,
        "test_acc": test_at_best,
        "final_test_acc": final_test,
        "epochs_to_target": epochs_to_target,
        "status": "diverged" if diverged else "ok",
    }


def epochs_to_dense_target(rows: list[dict], curves: dict[str, list[float]]) -> list[int | str | None]:
    """Per export row, the absolute convergence measure: the first epoch whose validation
    accuracy (`curves`: val_acc by trial key) reaches TARGET_FRACTION of the best validation
    accuracy of the same experiment's dense parent of the same seed; NEVER if no epoch does,
    None if the experiment has no dense trial of that seed."""
    dense_best = {(r["experiment"], r["seed"]): r["best_val_acc"] for r in rows if r["arm"] == "dense"}
    out: list[int | str | None] = []
    for r in rows:
        best = dense_best.get((r["experiment"], r["seed"]))
        reached = None if best is None else epochs_to_reach(curves[r["trial_key"]], TARGET_FRACTION * best)
        out.append(None if best is None else NEVER if reached is None else reached)
    return out


def dense_target_cell(rows: list[dict]) -> str:
    """One (sparsity, arm) group's epochs_to_dense_target for a table: the mean over the seeds
    that reach the target and how many never do ("n/a" without a dense parent)."""
    values = [r["epochs_to_dense_target"] for r in rows if r["epochs_to_dense_target"] is not None]
    reached = [v for v in values if v != NEVER]
    never = len(values) - len(reached)
    if not values:
        return "n/a"
    mean = f"{sum(reached) / len(reached):.1f}" if reached else NEVER
    return f"{mean} ({never}/{len(values)} never)" if never and reached else mean


def val_auc(val_acc: list[float]) -> float:
    """Area under the validation-accuracy curve per epoch (the mean over epochs), in [0, 1]:
    higher means the network got good sooner and stayed good."""
    return sum(val_acc) / len(val_acc)


def mean_curves(rows: list[dict], curves: dict[str, dict], name: str = "val_acc") -> dict[tuple[float, str], tuple]:
    """Per (sparsity, arm): (mean, low, high) lists over epochs of curve `name` across seeds,
    the band being the 95% t-interval of the mean at each epoch (no band for one seed)."""
    groups: dict[tuple[float, str], list[list[float]]] = defaultdict(list)
    for row in rows:
        groups[(row["sparsity"], row["arm"])].append(curves[row["trial_key"]][name])
    out = {}
    for key, series in sorted(groups.items()):
        intervals = [mean_interval(list(epoch)) for epoch in zip(*series)]
        mean = [i.mean for i in intervals]
        half = [0.0 if math.isnan(i.half_width) else i.half_width for i in intervals]
        out[key] = (mean, [m - h for m, h in zip(mean, half)], [m + h for m, h in zip(mean, half)])
    return out
