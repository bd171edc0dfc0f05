"""Which kernel runs a weight-sparse network fastest at each sparsity: per sparsity and arm, the
median over trials of every kernel's measured latency (`sparsearch export --kernels`), each
sparse kernel's speed-up over masked dense, and the lowest sparsity where CSR beats masked
dense. Prints Markdown, with the CPU model, its bf16 path and the load average.

    sparsearch run examples/digits-speed.toml --store speed.db          # trains and measures
    python benchmarks/kernel_break_even.py --store speed.db --experiment digits-speed
"""

from __future__ import annotations

import argparse
import os

from sparsearch import Study
from sparsearch.engine.precision import bf16_path
from sparsearch.measure.kernels import CSR, MASKED
from sparsearch.measure.trials import cpu_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--experiment", required=True)
    args = parser.parse_args()
    table = Study(args.store, args.experiment).table("kernels")
    if table.empty:
        raise SystemExit(f"{args.experiment}: nothing measured yet; run `sparsearch measure {args.experiment}`")
    print(f"CPU: {cpu_model()} (bf16 path: {bf16_path()}); load average now {os.getloadavg()[0]:.2f}; "
          f"measured on {', '.join(sorted(set(table.latency_device)))}\n")
    medians = table.groupby(["sparsity", "arm", "kernel"])[["latency_ms", "latency_b1_ms"]].median().unstack("kernel")
    kernels = list(medians["latency_ms"].columns)
    print("| sparsity | arm | " + " | ".join(f"{k} ms (b1 ms)" for k in kernels) + " | CSR / masked at batch |")
    print("|" + " --- |" * (3 + len(kernels)))
    wins = []
    for (sparsity, arm), row in medians.iterrows():
        cells = [f"{row['latency_ms'][k]:.4g} ({row['latency_b1_ms'][k]:.3g})" for k in kernels]
        ratio = row["latency_ms"][MASKED] / row["latency_ms"][CSR] if {MASKED, CSR} <= set(kernels) else float("nan")
        if ratio > 1:
            wins.append(sparsity)
        print(f"| {sparsity:g} | {arm} | " + " | ".join(cells) + f" | {ratio:.2f}x |")
    print(f"\nCSR beats masked dense at the batch from sparsity {min(wins):g}" if wins
          else "\nCSR beats masked dense at no measured sparsity")


if __name__ == "__main__":
    main()
