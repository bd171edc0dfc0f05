"""Two training recipes of the same networks compared paired by seed.

    python -m sparsearch run examples/digits-lenet5-constant.toml --store recipes.db
    python -m sparsearch run examples/digits-lenet5-cosine-crop.toml --store recipes.db
    python benchmarks/recipe_pair.py recipes.db digits-lenet5-constant digits-lenet5-cosine-crop

Reads the trials of one arm (dense by default) in both experiments of the store, pairs them by
(sparsity, seed), and prints Markdown: each seed's accuracies, then per metric (test accuracy at
the best-validation epoch, and after the last epoch) both means, the mean paired difference
(second minus first, in points) with its 95% t and BCa bootstrap intervals, and the two-sided
Wilcoxon signed-rank p-value (sparsearch.analysis.paired, as `sparsearch compare` computes them)."""

from __future__ import annotations

import argparse

import numpy as np
from scipy import stats

from sparsearch import Study
from sparsearch.analysis.paired import bootstrap_ci, wilcoxon_p

METRICS = {"test_acc": "test accuracy at the best-validation epoch", "final_test_acc": "test accuracy after the last epoch"}


def paired_rows(store: str, first: str, second: str, arm: str):
    """The two experiments' trials of `arm`, joined on (sparsity, seed)."""
    a, b = (Study(store, name).trials() for name in (first, second))
    a, b = (t[t["arm"] == arm][["sparsity", "seed", *METRICS]] for t in (a, b))
    joined = a.merge(b, on=["sparsity", "seed"], suffixes=("_a", "_b")).sort_values(["sparsity", "seed"])
    if joined.empty:
        raise SystemExit(f"no trials of arm {arm!r} share a (sparsity, seed) in {first!r} and {second!r}")
    return joined


def summary(diffs: np.ndarray) -> tuple[float, tuple[float, float], tuple[float, float], float]:
    """Mean difference, its 95% t interval, its 95% BCa interval, and the Wilcoxon p-value."""
    mean = float(diffs.mean())
    half = float(stats.t.ppf(0.975, len(diffs) - 1) * diffs.std(ddof=1) / np.sqrt(len(diffs)))
    return mean, (mean - half, mean + half), bootstrap_ci(diffs), wilcoxon_p(diffs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("first", help="the baseline experiment")
    parser.add_argument("second", help="the experiment compared with it")
    parser.add_argument("--arm", default="dense")
    args = parser.parse_args()
    rows = paired_rows(args.store, args.first, args.second, args.arm)
    print(f"| seed | {args.first} test % | {args.second} test % | difference (pts) |")
    print("|---:|---:|---:|---:|")
    for _, r in rows.iterrows():
        print(f"| {int(r.seed)} | {100 * r.test_acc_a:.2f} | {100 * r.test_acc_b:.2f} | "
              f"{100 * (r.test_acc_b - r.test_acc_a):+.2f} |")
    print(f"\n| metric | {args.first} % | {args.second} % | mean difference (pts) | 95% t CI | 95% BCa CI | "
          f"Wilcoxon p | seeds |")
    print("|---|---:|---:|---:|---|---|---:|---:|")
    for metric, label in METRICS.items():
        a, b = rows[f"{metric}_a"].to_numpy(float), rows[f"{metric}_b"].to_numpy(float)
        mean, t_ci, bca, p = summary(b - a)
        print(f"| {label} | {100 * a.mean():.2f} | {100 * b.mean():.2f} | {100 * mean:+.2f} | "
              f"[{100 * t_ci[0]:+.2f}, {100 * t_ci[1]:+.2f}] | [{100 * bca[0]:+.2f}, {100 * bca[1]:+.2f}] | "
              f"{p:.3g} | {len(rows)} |")


if __name__ == "__main__":
    main()
