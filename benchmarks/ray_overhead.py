"""Wall time of an experiment in-process vs on a local Ray cluster, side by side in one sitting.

    python benchmarks/ray_overhead.py [CONFIG] --rounds 3

Starts a Ray cluster on this machine (`ray start --head` on 127.0.0.1, all its CPUs), then runs
`sparsearch run CONFIG` (the built-in default study if omitted) alternately in-process and with
`--address` on that cluster, each into a fresh store, timing command start to exit. Prints the
load average before each run, the median times, Ray's fixed costs per run (importing it,
connecting, a first task that starts a worker and imports the engine there), an empty task's
round trip, the rest of the difference per task (tasks are counted by rerunning the plan
through a counting executor), and whether the exports agree row for row (timings aside). Stops the cluster at the end. Run it on a quiet machine."""

from __future__ import annotations

import argparse
import ast
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sparsearch.api import as_config
from sparsearch.config import Config
from sparsearch.data import load_dataset
from sparsearch.engine.executor import IN_PROCESS
from sparsearch.engine.ray_executor import LOCAL_INSTANCE
from sparsearch.mask.study import run_mask_study
from sparsearch.store import Store
from sparsearch.analysis.export import export_rows

BIN = Path(sys.executable).parent
ENV = {**os.environ, **LOCAL_INSTANCE, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}


class Counting:
    """The in-process executor, counting the chunks (the tasks a Ray run submits)."""

    def __init__(self):
        self.tasks = 0

    def run(self, train, setting, chunks, on_epoch=None):
        for index, result in IN_PROCESS.run(train, setting, chunks, on_epoch):
            self.tasks += 1
            yield index, result


def tasks_of(config: Config) -> int:
    counting = Counting()
    with Store(":memory:", write=True) as store:
        run_mask_study(config, load_dataset(config.data), store, executor=counting)
    return counting.tasks


def timed_run(config_args: list[str], store: Path, extra: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([str(BIN / "sparsearch"), "run", *config_args, "--quiet", "--store", str(store), *extra],
                   env=ENV, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def fixed_costs(address: str, threads: int, n: int = 200) -> dict[str, float]:
    """Seconds a driver takes to import Ray and connect to the cluster, for a first task that
    starts a worker and imports the engine there, and an empty task's mean round trip after
    that (`n` of them, one after another)."""
    code = (
        "import time\n"
        "t = time.perf_counter()\n"
        "import ray\n"
        "costs = {'import ray': time.perf_counter() - t}\n"
        "t = time.perf_counter()\n"
        f"ray.init(address={address!r}, logging_level='ERROR', log_to_driver=False)\n"
        "costs['connect'] = time.perf_counter() - t\n"
        f"first = ray.remote(lambda: __import__('sparsearch.engine.trainer')).options(num_cpus={threads})\n"
        "t = time.perf_counter()\n"
        "ray.get(first.remote())\n"
        "costs['first task'] = time.perf_counter() - t\n"
        f"empty = ray.remote(lambda: None).options(num_cpus={threads})\n"
        "t = time.perf_counter()\n"
        f"for _ in range({n}): ray.get(empty.remote())\n"
        f"costs['empty task'] = (time.perf_counter() - t) / {n}\n"
        "print(repr(costs))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=ENV, check=True, capture_output=True, text=True).stdout
    return ast.literal_eval(out.strip().splitlines()[-1])


def export(store: Path) -> list[dict]:
    with Store.open(store) as db:
        return [{k: v for k, v in row.items() if k != "train_seconds"} for row in export_rows(db)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    config = as_config(args.config) if args.config else Config()
    config_args = [args.config] if args.config else []
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"127.0.0.1:{port}"
    subprocess.run([str(BIN / "ray"), "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
                    "--include-dashboard=false", "--disable-usage-stats"], env=ENV, check=True, capture_output=True)
    try:
        times: dict[str, list[float]] = {"in-process": [], "ray": []}
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.rounds):
                for name, extra in (("in-process", []), ("ray", ["--address", address])):
                    load = os.getloadavg()
                    seconds = timed_run(config_args, Path(tmp) / f"{name}-{r}.db", extra)
                    times[name].append(seconds)
                    print(f"round {r + 1} {name:10s} {seconds:6.2f} s   (load average before: {load[0]:.2f})")
            same = export(Path(tmp) / "in-process-0.db") == export(Path(tmp) / "ray-0.db")
        tasks = tasks_of(config)
        costs = fixed_costs(address, config.engine.threads)
    finally:
        subprocess.run([str(BIN / "ray"), "stop", "--force"], env=ENV, capture_output=True)
    local, ray = statistics.median(times["in-process"]), statistics.median(times["ray"])
    print(f"median: in-process {local:.2f} s, ray {ray:.2f} s ({ray / local:.2f}x)")
    fixed = costs["import ray"] + costs["connect"] + costs["first task"]
    print(f"fixed per run: import ray {costs['import ray']:.2f} s, connect {costs['connect']:.2f} s, first task (starts "
          f"a worker, imports the engine) {costs['first task']:.2f} s; an empty task's round trip "
          f"{costs['empty task'] * 1000:.1f} ms")
    print(f"{tasks} tasks: {(ray - local - fixed) / tasks * 1000:.0f} ms more per task beyond the fixed costs")
    print(f"exports equal row for row (timings aside): {same}")


if __name__ == "__main__":
    main()
