"""Accuracy and wall time of one config in fp32 and in bf16, paired by (arm, sparsity, seed).

    python benchmarks/precision_parity.py                      # the built-in default study
    python benchmarks/precision_parity.py examples/digits-weight-baselines.toml

Runs `sparsearch run` on the config with `[engine] precision` set to fp32 and then bf16, each
into a fresh store, timing command start to exit (load average printed before each), and prints
a Markdown table: per arm and sparsity, the mean test accuracy (at the best-validation epoch)
in each precision and the mean paired difference bf16 - fp32 with its 95% t interval, in
points. Run it on a quiet machine."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from scipy import stats

from sparsearch.config import Config, load_config, to_toml
from sparsearch import Study

PRECISIONS = ("fp32", "bf16")
TOLERANCE = 0.5  # points of mean test accuracy


def run(config: Config, precision: str, folder: Path) -> tuple[float, pd.DataFrame]:
    """Wall seconds of `sparsearch run` on `config` in `precision`, and its trials."""
    changed = config.model_copy(update={"engine": config.engine.model_copy(update={"precision": precision})})
    path, store = folder / f"{precision}.toml", folder / f"{precision}.db"
    path.write_text(to_toml(changed))
    print(f"{precision}: load average before {' '.join(f'{x:.2f}' for x in os.getloadavg())}", file=sys.stderr)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sparsearch", "run", str(path), "--quiet", "--store", str(store)],
                   check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    return seconds, Study(store, config.experiment.name).trials()


def paired(trials: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per (arm, sparsity): n, mean test accuracy per precision and the paired
    difference bf16 - fp32 with its 95% t interval, all in points."""
    keys = ["arm", "sparsity", "seed"]
    both = trials["fp32"].merge(trials["bf16"], on=keys, suffixes=("_fp32", "_bf16"))
    rows = []
    for (arm, sparsity), group in both.groupby(["arm", "sparsity"], sort=False):
        diff = 100 * (group["test_acc_bf16"] - group["test_acc_fp32"])
        mean = diff.mean()
        if len(diff) > 1 and diff.std() > 0:
            low, high = stats.t.interval(0.95, len(diff) - 1, loc=mean, scale=stats.sem(diff))
        else:
            low = high = mean
        rows.append({"arm": arm, "sparsity": sparsity, "n": len(diff),
                     "fp32": 100 * group["test_acc_fp32"].mean(), "bf16": 100 * group["test_acc_bf16"].mean(),
                     "diff": mean, "low": low, "high": high, "within": abs(mean) <= TOLERANCE})
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame) -> str:
    lines = ["| arm | sparsity | n | fp32 | bf16 | bf16 - fp32 (95% CI) | within 0.5? |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in table.itertuples():
        lines.append(f"| {r.arm} | {r.sparsity:g} | {r.n} | {r.fp32:.2f} | {r.bf16:.2f} | "
                     f"{r.diff:+.2f} [{r.low:+.2f}, {r.high:+.2f}] | {'yes' if r.within else 'no'} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", type=Path, help="TOML config (the built-in default if omitted)")
    args = parser.parse_args()
    config = load_config(args.config) if args.config else Config()
    with tempfile.TemporaryDirectory() as tmp:
        results = {p: run(config, p, Path(tmp)) for p in PRECISIONS}
    table = paired({p: trials for p, (_, trials) in results.items()})
    print(markdown(table))
    print(f"\nwall time (command start to exit): fp32 {results['fp32'][0]:.1f} s, bf16 {results['bf16'][0]:.1f} s; "
          f"{int(table['within'].sum())} of {len(table)} arm x sparsity cells within {TOLERANCE} points")


if __name__ == "__main__":
    main()
