"""`sparsearch run` start to exit against the plain per-network loop on the same networks.

    python benchmarks/end_to_end.py                                  # examples/digits-node-256.toml
    python benchmarks/end_to_end.py examples/digits-node-256.toml --runs 2 --plain-networks 4

Runs `sparsearch run CONFIG` into a fresh store `--runs` times (the fastest counts: other
processes only ever add time), then trains `--plain-networks` of the same shape the plain way
(bench/plain.py: one `nn.Module` and optimizer per network, one after another, validation and
test evaluated every epoch) with the config's recipe and a run's allocator settings, fastest of
`--runs` too, and scales that loop's per-network time to the config's networks (its time is
linear in them). The config must be a one-arm node-space
study at one sparsity of an MLP (the networks of a plain loop need one shape). Prints the CPU
model, its bf16 path, the load average before each timing and the ratio. Run it on a quiet
machine."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from sparsearch.bench import Networks, Workload, train_with, workload_parent
from sparsearch.config import Config, load_config
from sparsearch.data import load_dataset
from sparsearch.engine.allocator import freed_memory_kept
from sparsearch.engine.precision import bf16_path
from sparsearch.measure.trials import cpu_model

DEFAULT = Path(__file__).resolve().parent.parent / "examples" / "digits-node-256.toml"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_seconds(config: Path, runs: int) -> float:
    """The fastest of `runs` wall times of `sparsearch run CONFIG`, each into a fresh store."""
    best = float("inf")
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            print(f"sparsearch run: load average before {load()}", file=sys.stderr)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "sparsearch", "run", str(config), "--quiet", "--store",
                            str(Path(folder) / "s.db")], check=True, stdout=subprocess.DEVNULL)
            best = min(best, time.perf_counter() - start)
    return best


def checked(config_path: Path) -> Config:
    """The config, refused (exit 2, one line) unless its networks share one shape."""
    config = load_config(config_path)
    search = config.search
    if config.parent.kind != "mlp" or search.space != "node" or len(search.sparsities) != 1 or len(search.arms) != 1:
        print(f"{config_path}: a one-arm node-space MLP study at one sparsity is needed, got kind "
              f"{config.parent.kind!r}, space {search.space!r}, sparsities {search.sparsities}, arms {search.arms}",
              file=sys.stderr)
        sys.exit(2)
    return config


def plain_seconds(config: Config, networks: int, threads: int, runs: int) -> float:
    """Seconds of the plain loop over all the config's networks, scaled from `networks` of them:
    the fastest of `runs`, with the allocator settings a run has (engine/allocator.py)."""
    total = len(config.experiment.seed_list)
    data = load_dataset(config.data)
    workload = Workload(config.data.name, tuple(config.parent.hidden), total, config.search.sparsities[0])
    torch.set_num_threads(threads)
    nets = Networks.build(workload_parent(workload, data), workload.sparsity, min(networks, total))
    best = float("inf")
    with freed_memory_kept():
        for _ in range(runs):
            print(f"plain loop: load average before {load()}", file=sys.stderr)
            start = time.perf_counter()
            train_with("plain", nets, data, config.train)
            best = min(best, time.perf_counter() - start)
    return best / len(nets.seeds) * total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--runs", type=int, default=2,
                        help="times `sparsearch run` and the plain loop are each timed (the fastest counts)")
    parser.add_argument("--plain-networks", type=int, default=16, help="networks the plain loop is timed on")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the plain loop")
    args = parser.parse_args()
    config = checked(args.config)
    total = len(config.experiment.seed_list)
    print(f"CPU: {cpu_model()} (bf16 path: {bf16_path()}), torch {torch.__version__}", flush=True)
    run = run_seconds(args.config, args.runs)
    plain = plain_seconds(config, args.plain_networks, args.threads, args.runs)
    print(f"{args.config.name}: {total} networks; sparsearch run {run:.1f} s, plain loop {plain:.1f} s "
          f"(from {min(args.plain_networks, total)} networks): {plain / run:.2f}x; load average after {load()}")


if __name__ == "__main__":
    main()
