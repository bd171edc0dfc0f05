"""How well a probe ranks candidates: rank correlation between probe scores and the trained
accuracy of the same candidates, and the regret of the probe's pick (the NAS proxy-evaluation
measures of Abdelfattah et al. 2021 and Mellor et al. 2021)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class ProbeAudit:
    """One seed and sparsity: N candidates' probe scores beside their trained accuracies."""

    n: int
    kendall_val: float  # Kendall tau-b, probe score vs trained validation accuracy
    spearman_val: float
    kendall_test: float  # the same against test accuracy (reported, never used to choose)
    spearman_test: float
    regret_val: float  # best validation accuracy among the N minus that of the probe's pick
    regret_test: float  # best test accuracy among the N minus that of the probe's pick
    scores: list[float]
    val_acc: list[float]  # best validation accuracy of each trained candidate
    test_acc: list[float]  # test accuracy at that epoch


def _correlation(method, a: np.ndarray, b: np.ndarray) -> float:
    """NaN when either side is constant (no ranking to compare)."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return float(method(a, b).statistic)


def audit(scores: list[float], val_acc: list[float], test_acc: list[float]) -> ProbeAudit:
    """The audit of candidates with these probe scores (higher = preferred) and trained
    accuracies. The pick is the highest score (first on ties), as the arm picks; non-finite
    scores rank lowest."""
    s = np.nan_to_num(np.asarray(scores, dtype=float), nan=-np.inf)
    val, test = np.asarray(val_acc, dtype=float), np.asarray(test_acc, dtype=float)
    finite = np.isfinite(s)
    ranked = np.where(finite, s, s[finite].min() - 1 if finite.any() else 0.0)  # non-finite: tied lowest
    pick = int(np.argmax(s))
    return ProbeAudit(
        n=len(s),
        kendall_val=_correlation(stats.kendalltau, ranked, val), spearman_val=_correlation(stats.spearmanr, ranked, val),
        kendall_test=_correlation(stats.kendalltau, ranked, test),
        spearman_test=_correlation(stats.spearmanr, ranked, test),
        regret_val=float(val.max() - val[pick]), regret_test=float(test.max() - test[pick]),
        scores=[float(v) for v in scores], val_acc=[float(v) for v in val], test_acc=[float(v) for v in test],
    )
