"""The run summary: per sparsity and arm, mean test accuracy with a 95% t-interval over seeds."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class Interval:
    n: int
    mean: float
    half_width: float  # 95% Student-t half width; nan when n < 2


def mean_interval(values: list[float], confidence: float = 0.95) -> Interval:
    """Mean and the half width of its two-sided Student-t confidence interval."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return Interval(n, mean, math.nan)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    from scipy.special import stdtrit  # Student t's quantile (what stats.t.ppf calls), without scipy.stats

    return Interval(n, mean, float(stdtrit(n - 1, 0.5 + confidence / 2)) * sd / math.sqrt(n))


@dataclass(frozen=True)
class ArmRow:
    sparsity: float
    arm: str
    test_acc: Interval
    epochs_to_target: float
    node_sparsity: float
    weight_sparsity: float
    params: float
    flops: float


def _mean(rows: list[dict], key: str) -> float:
    return sum(r[key] for r in rows) / len(rows)


def arm_rows(trials: list[dict]) -> list[ArmRow]:
    """One row per (sparsity, arm) in the order they first appear in `trials`."""
    groups: dict[tuple[float, str], list[dict]] = defaultdict(list)
    for t in trials:
        groups[(t["sparsity"], t["arm"])].append(t)
    return [
        ArmRow(
            sparsity,
            arm,
            mean_interval([r["test_acc"] for r in rows]),
            _mean(rows, "epochs_to_target"),
            _mean(rows, "node_sparsity"),
            _mean(rows, "weight_sparsity"),
            _mean(rows, "params"),
            _mean(rows, "flops"),
        )
        for (sparsity, arm), rows in sorted(groups.items())
    ]


SUMMARY_COLUMNS = ("sparsity", "arm", "seeds", "test_acc", "test_acc_ci", "epochs_to_target", "node_sparsity",
                   "weight_sparsity", "params", "flops")
"""`Study.summary()`'s columns for a mask study: an ArmRow flat, the interval as its mean and half width."""


def flat_rows(rows: list[ArmRow]) -> list[dict]:
    """ArmRows as SUMMARY_COLUMNS records: `seeds` the interval's n, `test_acc` its mean, `test_acc_ci` its half width."""
    return [{"sparsity": r.sparsity, "arm": r.arm, "seeds": r.test_acc.n, "test_acc": r.test_acc.mean,
             "test_acc_ci": r.test_acc.half_width, "epochs_to_target": r.epochs_to_target,
             "node_sparsity": r.node_sparsity, "weight_sparsity": r.weight_sparsity, "params": r.params,
             "flops": r.flops} for r in rows]


def diverged_note(trials: list[dict]) -> str | None:
    """How many trials diverged (status `diverged`, a non-finite training loss), or None."""
    diverged = sum(t["status"] == "diverged" for t in trials)
    if not diverged:
        return None
    return (f"{diverged} trial{'s' if diverged != 1 else ''} diverged (non-finite training loss); "
            f"the summary and the paired comparisons include {'them' if diverged != 1 else 'it'} as recorded.")
