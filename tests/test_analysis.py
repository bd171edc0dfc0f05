import math

import pytest

from sparsearch.analysis.convergence import dense_target_cell, mean_curves, trial_metrics, val_auc
from sparsearch.analysis.summary import arm_rows, diverged_note, mean_interval


def test_trial_metrics_by_hand():
    m = trial_metrics([2.0, 1.0, 0.5, 0.4], [0.50, 0.90, 0.96, 0.94], [0.48, 0.88, 0.93, 0.95])
    # best val 0.96 at epoch 3; target 0.95 * 0.96 = 0.912, first reached at epoch 3
    assert m == {
        "best_epoch": 3, "best_val_acc": 0.96, "test_acc": 0.93, "final_test_acc": 0.95,
        "epochs_to_target": 3, "status": "ok",
    }
    assert trial_metrics([1.0, 0.5], [0.5, 0.5], [0.4, 0.45])["epochs_to_target"] == 1
    assert trial_metrics([1.0, float("nan")], [0.5, 0.1], [0.4, 0.1])["status"] == "diverged"


def test_mean_interval_is_the_student_t_interval():
    i = mean_interval([1.0, 2.0, 3.0, 4.0])
    # sd = sqrt(5/3) = 1.290994; t(0.975, 3) = 3.182446; half width = t * sd / 2
    assert (i.n, i.mean) == (4, 2.5)
    assert i.half_width == pytest.approx(3.182446 * 1.290994 / 2, rel=1e-6)
    assert math.isnan(mean_interval([0.7]).half_width)


def rows():
    out = []
    for seed, (r, rs) in enumerate([(0.80, 0.85), (0.70, 0.72), (0.90, 0.89)]):
        out.append({"sparsity": 0.5, "arm": "random", "seed": seed, "test_acc": r, "epochs_to_target": 4,
                    "node_sparsity": 0.5, "weight_sparsity": 0.6, "params": 100, "flops": 180})
        out.append({"sparsity": 0.5, "arm": "random_search", "seed": seed, "test_acc": rs, "epochs_to_target": 3,
                    "node_sparsity": 0.5, "weight_sparsity": 0.6, "params": 100, "flops": 180})
    return out


def test_arm_rows_group_by_sparsity_and_arm():
    table = arm_rows(rows())
    assert [(r.sparsity, r.arm, r.test_acc.n) for r in table] == [(0.5, "random", 3), (0.5, "random_search", 3)]
    assert table[0].test_acc.mean == pytest.approx(0.8)
    assert table[1].test_acc.half_width == pytest.approx(mean_interval([0.85, 0.72, 0.89]).half_width)
    assert (table[1].epochs_to_target, table[1].params, table[1].weight_sparsity) == (3, 100, 0.6)


def test_val_auc_and_mean_curves_by_hand():
    assert val_auc([0.5, 0.7, 0.9]) == pytest.approx(0.7)
    rows = [{"sparsity": 0.5, "arm": "random", "trial_key": k} for k in ("a", "b")]
    curves = {"a": {"val_acc": [0.5, 0.7]}, "b": {"val_acc": [0.7, 0.9]}}
    ((key, (mean, low, high)),) = mean_curves(rows, curves).items()
    half = mean_interval([0.5, 0.7]).half_width  # t(0.975, 1) * 0.141421 / sqrt 2 = 1.2706
    assert key == (0.5, "random") and mean == pytest.approx([0.6, 0.8])
    assert low == pytest.approx([0.6 - half, 0.8 - half]) and high == pytest.approx([0.6 + half, 0.8 + half])
    assert half == pytest.approx(12.7062 * 0.1, rel=1e-4)


def test_the_terminal_summary_says_how_many_trials_diverged():
    from sparsearch.display import summary_table

    trials = [r | {"status": "ok"} for r in rows()]
    assert summary_table(trials, "t").caption is None
    trials[1]["status"] = trials[4]["status"] = "diverged"
    assert summary_table(trials, "t").caption == (
        "2 trials diverged (non-finite training loss); the summary and the paired comparisons include them as recorded."
    )
    assert diverged_note(trials[:2]) == (
        "1 trial diverged (non-finite training loss); the summary and the paired comparisons include it as recorded."
    )


def test_dense_target_cell_means_the_seeds_that_reach_it_and_counts_the_rest():
    group = lambda *values: [{"epochs_to_dense_target": v} for v in values]  # noqa: E731
    assert dense_target_cell(group(19, 17, "never", 16)) == "17.3 (1/4 never)"
    assert dense_target_cell(group(4, 5)) == "4.5"
    assert dense_target_cell(group("never", "never")) == "never"
    assert dense_target_cell(group(None, None)) == "n/a"
