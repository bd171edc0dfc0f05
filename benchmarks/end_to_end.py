"""`sparsearch run` start to exit against the plain per-network loop on the same networks.

    python benchmarks/end_to_end.py                                  # examples/digits-node-256.toml
    python benchmarks/end_to_end.py examples/digits-node-256.toml --runs 2 --plain-networks 4

In each of `--runs` rounds, runs `sparsearch run CONFIG` into a fresh store, then trains
`--plain-networks` of the same shape the plain way (bench/plain.py: one `nn.Module` and
optimizer per network, one after another, validation and test evaluated every epoch) with the
config's recipe and a run's allocator settings, and scales that loop's per-network time to the
config's networks (its time is linear in them). Alternating keeps both under the same machine
state; the fastest of each counts (other processes only ever add time), and the spread and
median of the rounds' ratios show how far the machine let them vary. The config must be a one-arm node-space
study at one sparsity of an MLP (the networks of a plain loop need one shape). Prints the CPU
model, its bf16 path, the load average before each timing and the ratio. Run it on a quiet
machine."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
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


def run_once(config: Path) -> float:
    """Wall time of `sparsearch run CONFIG` into a fresh store."""
    with tempfile.TemporaryDirectory() as folder:
        print(f"sparsearch run: load average before {load()}", file=sys.stderr)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sparsearch", "run", str(config), "--quiet", "--store",
                        str(Path(folder) / "s.db")], check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start


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


def plain_loop(config: Config, networks: int, threads: int) -> Callable[[], float]:
    """A timer of the plain loop: each call trains `networks` of the config's networks (with the
    allocator settings a run has, engine/allocator.py) and returns the seconds scaled to all."""
    total = len(config.experiment.seed_list)
    data = load_dataset(config.data)
    workload = Workload(config.data.name, tuple(config.parent.hidden), total, config.search.sparsities[0])
    nets = Networks.build(workload_parent(workload, data), workload.sparsity, min(networks, total))

    def seconds() -> float:
        torch.set_num_threads(threads)
        print(f"plain loop: load average before {load()}", file=sys.stderr)
        with freed_memory_kept():
            start = time.perf_counter()
            train_with("plain", nets, data, config.train)
            return (time.perf_counter() - start) / len(nets.seeds) * total

    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--runs", type=int, default=2,
                        help="rounds, each timing `sparsearch run` then the plain loop (the fastest of each counts)")
    parser.add_argument("--plain-networks", type=int, default=16, help="networks the plain loop is timed on")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the plain loop")
    args = parser.parse_args()
    config = checked(args.config)
    total = len(config.experiment.seed_list)
    print(f"CPU: {cpu_model()} (bf16 path: {bf16_path()}), torch {torch.__version__}", flush=True)
    plain_seconds = plain_loop(config, args.plain_networks, args.threads)
    rounds = [(run_once(args.config), plain_seconds()) for _ in range(args.runs)]  # alternating: one machine state
    print("rounds (run, plain): " + ", ".join(f"{r:.1f} s / {p:.1f} s" for r, p in rounds), file=sys.stderr)
    run, plain = min(r for r, _ in rounds), min(p for _, p in rounds)
    ratios = sorted(p / r for r, p in rounds)
    print(f"{args.config.name}: {total} networks; sparsearch run {run:.1f} s, plain loop {plain:.1f} s "
          f"(from {min(args.plain_networks, total)} networks): {plain / run:.2f}x; per round {ratios[0]:.2f}-"
          f"{ratios[-1]:.2f}x, median {statistics.median(ratios):.2f}x; load average after {load()}")


if __name__ == "__main__":
    main()
