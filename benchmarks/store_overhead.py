"""Overhead of the SQLite store: the default experiment with a file store vs an in-memory
store (nothing written to disk), alternated in one process so both see the same machine state.

    .venv/bin/python benchmarks/store_overhead.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sparsearch.config import Config
from sparsearch.data import load_dataset
from sparsearch.mask.study import run_mask_study
from sparsearch.store import Store
from sparsearch.store.sqlite import MEMORY


def timed_run(config: Config, data, path: str) -> float:
    start = time.perf_counter()
    store = Store(path, write=True)
    run_mask_study(config, data, store)
    store.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    config = Config()
    data = load_dataset(config.data)
    timed_run(config, data, MEMORY)  # warm-up
    disk, memory = [], []
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):
            disk.append(timed_run(config, data, str(Path(folder) / f"round{round_}.db")))
            memory.append(timed_run(config, data, MEMORY))
    d, m = statistics.median(disk), statistics.median(memory)
    print(f"default experiment, median of {args.rounds} alternated runs")
    print(f"  file store (WAL):  {d:.2f} s   runs: {', '.join(f'{t:.2f}' for t in disk)}")
    print(f"  in-memory store:   {m:.2f} s   runs: {', '.join(f'{t:.2f}' for t in memory)}")
    print(f"  overhead: {d - m:+.2f} s ({100 * (d / m - 1):+.1f}%)")


if __name__ == "__main__":
    main()
