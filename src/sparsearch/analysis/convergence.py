"""Per-trial metrics from per-epoch curves (epochs are counted from 1)."""

from __future__ import annotations

import math
from collections import defaultdict

from .summary import mean_interval

TARGET_FRACTION = 0.95
"""epochs_to_target: first epoch whose val accuracy reaches this fraction of the trial's best."""


def trial_metrics(train_loss: list[float], val_acc: list[float], test_acc: list[float]) -> dict:
    """best_epoch (first epoch of max val accuracy), best_val_acc, test_acc at that epoch,
    final_test_acc, epochs_to_target, and status (`diverged` if any train loss is not finite)."""
    best_val = max(val_acc)
    best_epoch = val_acc.index(best_val) + 1
    target = TARGET_FRACTION * best_val
    epochs_to_target = next(e for e, acc in enumerate(val_acc, start=1) if acc >= target)
    diverged = not all(math.isfinite(loss) for loss in train_loss)
    return {
        "best_epoch": best_epoch,
        "best_val_acc": best_val,
        "test_acc": test_acc[best_epoch - 1],
        "final_test_acc": test_acc[-1],
        "epochs_to_target": epochs_to_target,
        "status": "diverged" if diverged else "ok",
    }


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
