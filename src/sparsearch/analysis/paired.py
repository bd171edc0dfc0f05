"""Paired comparisons of arms across seeds, as a careful reviewer wants them.

For every sparsity and every pair (arm vs `random`, arm vs `dense`), the per-seed differences
of a metric give: the mean difference, a 95% bootstrap confidence interval (BCa, resampling
seeds, so the pairing is kept), the Wilcoxon signed-rank p-value (the verdict's test) and the
paired t-test p-value, the Holm-adjusted Wilcoxon p-value across the sparsities tested for
that (arm, baseline, metric), and Cohen's d_z (mean difference / SD of differences).
Blalock et al. 2020 ("What is the State of Neural Network Pruning?") motivate the design:
controls, several sparsities, and no single-run claims.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .convergence import NEVER

MIN_SEEDS = 5
"""Below this many paired seeds no verdict is printed: the tests have little power."""
ALPHA = 0.05
BOOTSTRAP_RESAMPLES = 9999
TIE_TOLERANCE = 1e-6
"""Differences closer than this are equal: accuracies are float32 k/n, so equal count
differences differ by float32 rounding (under 1.2e-7), distinct ones by at least 1/n (over
1e-6 for test sets under a million examples)."""

METRICS = {
    # metric: (label, unit scale, unit, higher is better)
    "test_acc": ("test accuracy", 100.0, " pts", True),
    "epochs_to_target": ("epochs to target", 1.0, " epochs", False),
    "epochs_to_dense_target": ("epochs to dense target", 1.0, " epochs", False),
    "hypervolume": ("final hypervolume", 1.0, "", True),
}
MASK_METRICS = ("test_acc", "epochs_to_target", "epochs_to_dense_target")
"""The metrics `compare` tests; a trial that never reaches the dense target counts as +inf."""


@dataclass(frozen=True)
class Comparison:
    metric: str
    sparsity: float | None  # None for comparisons that are not per sparsity
    arm: str
    baseline: str
    n: int
    mean_diff: float  # arm minus baseline, in the metric's own units
    ci_low: float
    ci_high: float
    p_wilcoxon: float
    p_ttest: float
    p_holm: float  # Holm-adjusted Wilcoxon p across the sparsities of this family
    effect_size: float  # Cohen's d_z
    censored: int = 0  # pairs where one side never reached the target (an infinite difference)
    search_cost: float | None = None  # the arm's mean search cost over the pairs, dense-parent epochs (None: not recorded)

    @property
    def verdict(self) -> str:
        return verdict(self)


def exact_differences(diffs: np.ndarray) -> np.ndarray:
    """`diffs` without float32 rounding: each magnitude becomes the first magnitude within
    TIE_TOLERANCE of it (0 within it of 0), so differences of equal counts are exactly equal."""
    magnitudes = np.abs(diffs)
    close = np.isclose(magnitudes[:, None], magnitudes[None, :], rtol=0, atol=TIE_TOLERANCE)  # inf ties inf
    return np.sign(diffs) * np.where(magnitudes <= TIE_TOLERANCE, 0.0, magnitudes[close.argmax(axis=1)])


def constant(diffs: np.ndarray) -> bool:
    """True when the differences do not vary (up to float rounding of equal accuracies)."""
    exact = exact_differences(diffs)
    return bool(np.all(exact == exact[0]))


def _stats():
    """scipy.stats, imported when a comparison is first computed: its import takes about a second,
    which a run with nothing to compare (one arm) should not pay."""
    from scipy import stats

    return stats


def bootstrap_ci(diffs: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """95% BCa bootstrap interval of the mean of paired differences (degenerate if constant)."""
    if constant(diffs):
        return float(diffs[0]), float(diffs[0])
    result = _stats().bootstrap(
        (diffs,), np.mean, confidence_level=0.95, n_resamples=BOOTSTRAP_RESAMPLES, method="BCa",
        random_state=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def wilcoxon_p(diffs: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value (scipy.stats.wilcoxon) of the exact differences:
    exact without ties or zero differences, else zeros dropped and the tie-corrected normal
    approximation without continuity correction (R's wilcox.test with correct = FALSE);
    1 if every difference is 0."""
    diffs = exact_differences(diffs)
    if np.all(diffs == 0):
        return 1.0
    magnitudes = np.abs(diffs)
    tied = np.any(diffs == 0) or len(np.unique(magnitudes)) < len(magnitudes)
    return float(_stats().wilcoxon(diffs, method="approx" if tied else "exact").pvalue)


def ttest_p(diffs: np.ndarray) -> float:
    """Two-sided paired t-test p-value (if the differences do not vary: 1 when 0, else 0;
    nan for a single pair)."""
    if len(diffs) < 2:
        return math.nan
    if constant(diffs):
        return 1.0 if diffs[0] == 0 else 0.0
    return float(_stats().ttest_1samp(diffs, 0.0).pvalue)


def effect_size(diffs: np.ndarray) -> float:
    """Cohen's d_z: mean difference over the SD of differences (ddof 1)."""
    sd = float(np.std(diffs, ddof=1)) if len(diffs) > 1 else math.nan
    mean = float(np.mean(diffs))
    if sd == 0:
        return 0.0 if mean == 0 else math.copysign(math.inf, mean)
    return mean / sd


def holm(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def paired(metric: str, sparsity: float | None, arm: str, baseline: str, diffs: np.ndarray, p_holm: float) -> Comparison:
    """The comparison of per-seed differences `diffs` (arm minus baseline). Infinite
    differences (one side never reached a target) rank beyond every finite one in the Wilcoxon
    test (the worst-rank analysis of Lachin 1999); the mean is then +-inf (nan if both signs
    occur) and the interval, t-test and d_z undefined (nan)."""
    censored = int(np.isinf(diffs).sum())
    if censored:
        with np.errstate(invalid="ignore"):  # inf - inf: the direction is unknown
            mean = float(np.mean(diffs))
        return Comparison(metric, sparsity, arm, baseline, len(diffs), mean, math.nan, math.nan,
                          wilcoxon_p(diffs), math.nan, p_holm, math.nan, censored)
    low, high = bootstrap_ci(diffs)
    return Comparison(metric, sparsity, arm, baseline, len(diffs), float(np.mean(diffs)), low, high,
                      wilcoxon_p(diffs), ttest_p(diffs), p_holm, effect_size(diffs))


def _value(row: dict, metric: str) -> float | None:
    """The row's metric as a number: NEVER is +inf, a missing value (no dense parent) None."""
    value = row.get(metric)  # rows from before the column: no dense target
    return math.inf if value == NEVER else value


def compare(rows: list[dict], baselines: tuple[str, ...] = ("random", "dense")) -> list[Comparison]:
    """Every arm against every baseline present, per sparsity and metric, paired by seed.

    The dense parent exists only at sparsity 0, so `arm vs dense` pairs each sparse trial with
    the dense trial of the same seed."""
    by_key = {(r["sparsity"], r["arm"], r["seed"]): r for r in rows}
    arms = list(dict.fromkeys(r["arm"] for r in rows))
    sparsities = sorted({r["sparsity"] for r in rows if r["arm"] != "dense"})
    out: list[Comparison] = []
    for metric in MASK_METRICS:
        for baseline in baselines:
            if baseline not in arms:
                continue
            for arm in arms:
                if arm in (baseline, "dense"):
                    continue
                family = []
                for sparsity in sparsities:
                    base_sparsity = 0.0 if baseline == "dense" else sparsity
                    rows_of = [
                        (by_key[(sparsity, arm, seed)], by_key[(base_sparsity, baseline, seed)])
                        for (sp, a, seed) in sorted(by_key)
                        if sp == sparsity and a == arm and (base_sparsity, baseline, seed) in by_key
                    ]
                    pairs = [(_value(r, metric), _value(b, metric), r.get("search_cost")) for r, b in rows_of]
                    pairs = [(a, b, cost) for a, b, cost in pairs if a is not None and b is not None]
                    if pairs:
                        diffs = np.array([0.0 if a == b else a - b for a, b, _ in pairs], dtype=float)  # never vs never: 0
                        costs = [cost for _, _, cost in pairs]
                        family.append((sparsity, diffs, None if None in costs else float(np.mean(costs))))
                adjusted = holm([wilcoxon_p(d) for _, d, _ in family])
                out += [replace(paired(metric, sparsity, arm, baseline, diffs, p), search_cost=cost)
                        for (sparsity, diffs, cost), p in zip(family, adjusted)]
    return out


def _num(value: float, unit: str) -> str:
    """Signed: one decimal for metrics with a unit (points, epochs), three significant digits
    for unitless ones (hypervolume)."""
    return f"{value:+.1f}" if unit else f"{value:+.3g}"


def outcome(c: Comparison) -> str:
    """The verdict in a word or two: better, worse, different (significant, direction unknown),
    no evidence, or too few seeds (below MIN_SEEDS no verdict is drawn)."""
    if c.n < MIN_SEEDS:
        return "too few seeds"
    if c.p_holm < ALPHA and c.mean_diff != 0:
        better = (c.mean_diff > 0) == METRICS[c.metric][3]
        return "different" if math.isnan(c.mean_diff) else "better" if better else "worse"  # nan: censored both ways
    return "no evidence"


def difference(c: Comparison) -> tuple[str, str]:
    """The mean difference with its unit and the unadjusted 95% CI, as shown (a censored
    comparison: how many pairs never reached the target, and no interval)."""
    _, scale, unit, _ = METRICS[c.metric]
    if c.censored:
        return f"{c.censored} of {c.n} never", "n/a"
    return (f"{_num(scale * c.mean_diff, unit)}{unit}",
            f"[{_num(scale * c.ci_low, unit)}, {_num(scale * c.ci_high, unit)}]")


def verdict(c: Comparison) -> str:
    """One honest sentence: what the data do and do not show."""
    label, _, _, higher_better = METRICS[c.metric]
    mean, interval = difference(c)
    diff = (f"{c.censored} of {c.n} pairs with one side never reaching it (no mean or CI)" if c.censored else
            f"diff {mean}, unadjusted 95% CI {interval}")
    numbers = f"{diff}, Holm p = {c.p_holm:.2g}, n = {c.n}"
    if c.search_cost is not None:
        numbers += f", search cost {c.search_cost:.3g} dense-parent epochs"
    if c.p_holm >= ALPHA and (c.ci_low > 0 or c.ci_high < 0):
        numbers += "; the CI excludes 0 but, unlike the Holm p, is not adjusted for multiple comparisons"
    where = f"({label})" if c.sparsity is None else f"at {c.sparsity:g} ({label})"
    word = outcome(c)
    if word == "too few seeds":
        return f"{c.arm} vs {c.baseline} {where}: only {c.n} seed{'s' if c.n != 1 else ''}, too few for the test to have power ({numbers})"
    if word != "no evidence":
        return f"{c.arm} is {word} {'from' if word == 'different' else 'than'} {c.baseline} {where} ({numbers})"
    unknown = math.isnan(c.mean_diff)
    better = (c.mean_diff > 0) == higher_better
    direction = "differs from" if c.mean_diff == 0 or unknown else ("beats" if better else "is worse than")
    return f"no evidence that {c.arm} {direction} {c.baseline} {where} ({numbers})"
