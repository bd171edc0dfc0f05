"""How well a probe ranks candidates: rank correlation between probe scores and the trained
accuracy of the same candidates, and the regret of the probe's pick (the NAS proxy-evaluation
measures of Abdelfattah et al. 2021 and Mellor et al. 2021)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .summary import Interval, mean_interval


@dataclass(frozen=True)
class ProbeAudit:
    """One seed and sparsity: N candidates' probe scores beside their trained accuracies."""

    probe: str
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


def rank_correlation(method, a: np.ndarray, b: np.ndarray) -> float:
    """NaN when either side is constant (no ranking to compare)."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return float(method(a, b).statistic)


def audit(probe: str, scores: list[float], val_acc: list[float], test_acc: list[float]) -> ProbeAudit:
    """The audit of candidates with these probe scores (higher = preferred) and trained
    accuracies. The pick is the highest score (first on ties), as the arm picks; non-finite
    scores rank lowest."""
    from scipy import stats  # here: a run that audits no probe never imports scipy.stats

    s = np.nan_to_num(np.asarray(scores, dtype=float), nan=-np.inf)
    val, test = np.asarray(val_acc, dtype=float), np.asarray(test_acc, dtype=float)
    finite = np.isfinite(s)
    ranked = np.where(finite, s, s[finite].min() - 1 if finite.any() else 0.0)  # non-finite: tied lowest
    pick = int(np.argmax(s))
    return ProbeAudit(
        probe=probe, n=len(s),
        kendall_val=rank_correlation(stats.kendalltau, ranked, val), spearman_val=rank_correlation(stats.spearmanr, ranked, val),
        kendall_test=rank_correlation(stats.kendalltau, ranked, test),
        spearman_test=rank_correlation(stats.spearmanr, ranked, test),
        regret_val=float(val.max() - val[pick]), regret_test=float(test.max() - test[pick]),
        scores=[float(v) for v in scores], val_acc=[float(v) for v in val], test_acc=[float(v) for v in test],
    )


@dataclass(frozen=True)
class ProbeQualityRow:
    """One (sparsity, arm) of an experiment's audits, over seeds: means with 95% t-intervals."""

    sparsity: float
    arm: str
    probe: str
    candidates: int  # audited candidates per seed
    kendall_val: Interval
    spearman_val: Interval
    kendall_test: Interval
    spearman_test: Interval
    regret_val: Interval
    regret_test: Interval


def probe_quality(rows: list[dict]) -> list[ProbeQualityRow]:
    """Audit rows (the store's) summarized per sparsity and arm; undefined correlations (a
    constant score or accuracy) are left out of their means."""
    groups: dict[tuple[float, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["sparsity"], row["arm"]), []).append(row)
    out = []
    for (sparsity, arm), group in sorted(groups.items()):
        def interval(column: str) -> Interval:
            values = [r[column] for r in group if r[column] is not None and math.isfinite(r[column])]
            return mean_interval(values) if values else Interval(0, math.nan, math.nan)

        out.append(ProbeQualityRow(
            sparsity, arm, group[0]["probe"], group[0]["n"], *(interval(c) for c in (
                "kendall_val", "spearman_val", "kendall_test", "spearman_test", "regret_val", "regret_test")),
        ))
    return out
