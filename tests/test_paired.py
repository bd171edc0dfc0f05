import re

import numpy as np
import pytest

from sparsearch.analysis.paired import (
    Comparison, bootstrap_ci, compare, effect_size, holm, ttest_p, wilcoxon_p,
)
from sparsearch.config import config_from_dict
from sparsearch.data import load_dataset
from sparsearch.api import run
from sparsearch.store import Store


def test_wilcoxon_exact_p_by_hand():
    # n = 6, no ties: 2^6 = 64 equally likely sign patterns under H0.
    # All positive: only W- = 0 (and, two-sided, W+ = 0) are as extreme: p = 2/64.
    assert wilcoxon_p(np.array([1.0, 2, 3, 4, 5, 6])) == pytest.approx(2 / 64)
    # Smallest magnitude negative: W- = 1; P(W- <= 1) = 2/64, two-sided 4/64.
    assert wilcoxon_p(np.array([-1.0, 2, 3, 4, 5, 6])) == pytest.approx(4 / 64)
    assert wilcoxon_p(np.zeros(7)) == 1.0


def test_wilcoxon_ties_float32_accuracies_of_equal_counts():
    # Test set of 300: count differences 3, 3, 5, -1, 7, 3. As float32 k/n accuracies the three
    # differences of 3 differ by rounding, so ranking the floats would take the exact branch
    # (W- = 1 of 6 distinct ranks: p = 4/64). Tied, the magnitudes 1, 3, 3, 3, 5, 7 rank
    # 1, 3, 3, 3, 5, 6: W- = 1, mean 10.5, variance 6*7*13/24 - (3^3 - 3)/48 = 22.25,
    # z = -9.5 / sqrt(22.25) = -2.013996, two-sided p = 0.044010.
    base = np.array([31, 14, 59, 237, 191, 265])
    counts = np.array([3, 3, 5, -1, 7, 3])
    acc = lambda k: np.float32(k / 300).astype(float)  # noqa: E731
    diffs = acc(base + counts) - acc(base)
    assert len(np.unique(np.abs(diffs))) == 6  # the floats alone show no tie
    assert wilcoxon_p(diffs) == pytest.approx(0.044010, abs=1e-6)
    assert wilcoxon_p(diffs) == pytest.approx(wilcoxon_p(counts / 300.0), rel=1e-12)
    rows = rows_for("random", list(acc(base))) + rows_for("x", list(acc(base + counts)))
    (c,) = [c for c in compare(rows) if c.metric == "test_acc"]
    assert c.p_wilcoxon == pytest.approx(0.044010, abs=1e-6)


def test_paired_t_effect_size_and_holm_by_hand():
    diffs = np.array([1.0, 2.0, 3.0, 4.0])
    # mean 2.5, sd sqrt(5/3) = 1.290994, t = 2.5 / (1.290994 / 2) = 3.872983 on 3 df -> p = 0.030466
    assert ttest_p(diffs) == pytest.approx(0.030466, abs=2e-6)
    assert effect_size(diffs) == pytest.approx(2.5 / 1.290994, rel=1e-6)
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4 x 0.005, 3 x 0.01, 2 x 0.03, max(0.06, 1 x 0.04)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == [1.0, 1.0]


def test_bootstrap_interval_matches_a_direct_resampling_within_tolerance():
    diffs = np.random.default_rng(7).normal(0.5, 1.0, size=40)
    low, high = bootstrap_ci(diffs)
    assert (low, high) == bootstrap_ci(diffs)  # seeded: reproducible
    means = diffs[np.random.default_rng(1).integers(0, 40, size=(20000, 40))].mean(1)
    ref_low, ref_high = np.percentile(means, [2.5, 97.5])
    assert low == pytest.approx(ref_low, abs=0.05) and high == pytest.approx(ref_high, abs=0.05)
    assert low < diffs.mean() < high
    assert bootstrap_ci(np.full(6, 0.25)) == (0.25, 0.25)


def rows_for(arm, accs, sparsity=0.5):
    return [{"sparsity": sparsity, "arm": arm, "seed": s, "test_acc": a, "epochs_to_target": 5} for s, a in enumerate(accs)]


def test_a_better_arm_is_detected_and_an_identical_arm_is_not():
    base = list(np.random.default_rng(3).uniform(0.80, 0.90, size=10))
    rows = rows_for("random", base) + rows_for("better", [a + 0.03 + 0.001 * i for i, a in enumerate(base)])
    rows += rows_for("twin", base)
    by_arm = {c.arm: c for c in compare(rows) if c.metric == "test_acc"}
    assert by_arm["better"].verdict.startswith("better is better than random at 0.5 (test accuracy)")
    assert by_arm["better"].p_wilcoxon == pytest.approx(2 / 1024)
    assert by_arm["twin"].verdict.startswith("no evidence that twin differs from random at 0.5")
    assert by_arm["twin"].p_holm == 1.0


def test_few_seeds_say_the_test_has_little_power():
    rows = rows_for("random", [0.8, 0.7, 0.9]) + rows_for("random_search", [0.9, 0.8, 1.0])
    (c, _) = [c for c in compare(rows)]
    assert "only 3 seeds, too few for the test to have power" in c.verdict


def _mixed_seed_rows():
    base = [0.80, 0.82, 0.84, 0.86, 0.88, 0.90]
    rows = rows_for("random", base) + rows_for("good", [a + 0.01 * (i + 1) for i, a in enumerate(base)])
    rows += rows_for("snip", base[:3]) + rows_for("magnitude", base[:3])  # 3 seeds each
    rows += rows_for("random", base[:3], 0.9) + rows_for("snip", base[:3], 0.9)
    return rows


FEW = ("6 comparisons have only 3 seeds, too few for the test to have power: no verdict "
       "(their numbers: sparsearch report, Study.compare())")


def test_the_terminal_says_too_few_seeds_once():
    from sparsearch.display import verdicts

    assert verdicts(compare(_mixed_seed_rows()), "Paired", sentences=True) == [
        "Paired:",
        # all 6 differences positive and distinct: exact p = 2/64
        "  good is better than random at 0.5 (test accuracy) (diff +3.5 pts, unadjusted 95% CI [+2.2, +4.8], "
        "Holm p = 0.031, n = 6)",
        "  no evidence that good differs from random at 0.5 (epochs to target) (diff +0.0 epochs, unadjusted 95% CI "
        "[+0.0, +0.0], Holm p = 1, n = 6)",
        f"  {FEW}",
    ]


def test_the_terminal_table_has_a_row_per_comparison_with_its_verdict_word():
    from rich.console import Console

    from sparsearch.display import verdicts

    (table,) = verdicts(compare(_mixed_seed_rows()), "Paired")
    console = Console(width=200, record=True)
    console.print(table)
    lines = [" ".join(re.sub("[\u2500-\u257f]", " ", line).split()) for line in console.export_text().splitlines()]
    assert "sparsity arm vs metric diff 95% CI Holm p verdict" in lines
    assert "0.5 good random test accuracy +3.5 pts [+2.2, +4.8] 0.031 better" in lines
    assert "0.5 good random epochs to target +0.0 epochs [+0.0, +0.0] 1 no evidence" in lines
    assert " ".join(FEW.split()) in " ".join(lines)
    assert len(table.rows) == 2


def test_verdict_wording():
    c = Comparison("test_acc", 0.9, "random_search", "random", 10, 0.003, -0.004, 0.010, 0.41, 0.40, 0.41, 0.2)
    assert c.verdict == (
        "no evidence that random_search beats random at 0.9 (test accuracy) "
        "(diff +0.3 pts, unadjusted 95% CI [-0.4, +1.0], Holm p = 0.41, n = 10)"
    )
    # The default run's random vs dense at 0.75: the unadjusted CI excludes 0, the Holm p does not reject.
    unadjusted = Comparison("test_acc", 0.75, "random", "dense", 10, -0.006, -0.009, -0.001, 0.032, 0.02, 0.063, -0.8)
    assert unadjusted.verdict == (
        "no evidence that random is worse than dense at 0.75 (test accuracy) (diff -0.6 pts, unadjusted 95% CI "
        "[-0.9, -0.1], Holm p = 0.063, n = 10; the CI excludes 0 but, unlike the Holm p, is not adjusted for "
        "multiple comparisons)"
    )
    slower = Comparison("epochs_to_target", 0.5, "random", "dense", 8, 2.0, 1.5, 2.5, 0.008, 0.001, 0.016, 3.1)
    assert slower.verdict.startswith("random is worse than dense at 0.5 (epochs to target) (diff +2.0 epochs")


def test_holm_runs_across_the_sparsities_of_one_family():
    rows = []
    for sparsity in (0.5, 0.9):
        base = list(np.linspace(0.7, 0.8, 6))
        rows += rows_for("random", base, sparsity) + rows_for("x", [a + 0.01 * (i + 1) for i, a in enumerate(base)], sparsity)
    family = [c for c in compare(rows) if c.metric == "test_acc"]
    assert [c.p_holm for c in family] == pytest.approx([min(1, 2 * c.p_wilcoxon) for c in family])


@pytest.mark.slow
def test_dense_beats_a_95_percent_node_sparse_network_on_digits():
    config = config_from_dict({
        "experiment": {"seeds": 6}, "train": {"epochs": 8},
        "search": {"sparsities": [0.95], "arms": ["dense", "random"]},
    })
    store = Store(":memory:", write=True)
    rows = run(config, store=store, data=load_dataset(config.data)).outcome.rows
    (acc,) = [c for c in compare(rows) if c.metric == "test_acc"]
    assert (acc.arm, acc.baseline) == ("random", "dense")
    assert acc.verdict.startswith("random is worse than dense at 0.95 (test accuracy)")


def test_never_reaching_the_dense_target_ranks_worst():
    # Differences 2, 3, 1, inf, inf, -1 (never - 3 = inf): magnitudes 1, 1, 2, 3, inf, inf rank
    # 1.5, 1.5, 3, 4, 5.5, 5.5; W- = 1.5, mean 10.5, variance 22.75 - 2 * (2^3 - 2)/48 = 22.5,
    # z = -9 / sqrt(22.5) = -1.897367, two-sided p = 0.057780.
    rows = [{"sparsity": 0.0, "arm": "dense", "seed": s, "epochs_to_dense_target": 3} for s in range(6)]
    rows += [{"sparsity": 0.5, "arm": "random", "seed": s, "epochs_to_dense_target": v}
             for s, v in enumerate([5, 6, 4, "never", "never", 2])]
    (c,) = [c for c in compare(rows, baselines=("dense",)) if c.metric == "epochs_to_dense_target"]
    assert (c.n, c.censored, c.mean_diff) == (6, 2, np.inf)
    assert c.p_wilcoxon == pytest.approx(0.057780, abs=1e-6)
    assert c.verdict == ("no evidence that random is worse than dense at 0.5 (epochs to dense target) "
                         "(2 of 6 pairs with one side never reaching it (no mean or CI), Holm p = 0.058, n = 6)")


def test_outcome_words():
    from sparsearch.analysis.paired import outcome

    def c(metric, n, mean, p_holm):
        return Comparison(metric, 0.5, "a", "random", n, mean, mean - 0.01, mean + 0.01, p_holm, p_holm, p_holm, 1.0)

    assert outcome(c("test_acc", 10, 0.02, 0.01)) == "better"
    assert outcome(c("test_acc", 10, -0.02, 0.01)) == "worse"
    assert outcome(c("epochs_to_target", 10, 2.0, 0.01)) == "worse"  # more epochs is worse
    assert outcome(c("epochs_to_target", 10, -2.0, 0.01)) == "better"
    assert outcome(c("epochs_to_dense_target", 10, float("nan"), 0.01)) == "different"  # censored both ways
    assert outcome(c("test_acc", 10, 0.02, 0.2)) == "no evidence"
    assert outcome(c("test_acc", 4, 0.02, 0.01)) == "too few seeds"


def test_comparisons_not_per_sparsity_have_no_sparsity_column():
    from sparsearch.display import verdicts

    final = [Comparison("hypervolume", None, s, "random", 6, 0.01, 0.002, 0.02, 0.03, 0.02, 0.03, 1.1)
             for s in ("nsga2", "linas")]
    (table,) = verdicts(final, "Final hypervolume vs random")
    assert [column.header for column in table.columns] == ["arm", "vs", "metric", "diff", "95% CI", "Holm p", "verdict"]
    assert [cell for cell in table.columns[3].cells] == ["+0.01", "+0.01"] and list(table.columns[6].cells) == ["better"] * 2
