"""Per-trial metrics from per-epoch curves (epochs are counted from 1)."""

from __future__ import annotations

import math

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
