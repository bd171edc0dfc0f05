"""Wall time and exports of one example config under two commits, side by side in one sitting.

    python benchmarks/compare_commits.py BASE_COMMIT examples/digits-weight-baselines.toml --rounds 2
    python benchmarks/compare_commits.py BASE_COMMIT examples/mnist1d-cnn-node.toml --seeds 3
    python benchmarks/compare_commits.py BASE_COMMIT examples/digits-elastic.toml --quick

Checks BASE_COMMIT out into a temporary git worktree, then runs `sparsearch run CONFIG` (the
config as each commit has it) alternately under that commit and under this working tree, each
into a fresh store, timing command start to exit. Prints the load average before each run, the
times and their ratio, and whether the two exports agree row for row on every metric column
(the columns both commits export, timings aside; a super-network search's evaluations), and
whether the trial keys agree. `--seeds N` cuts the
config (as each commit has it) to N seeds; `--quick` passes `--quick` to both runs. Run it on
a quiet machine."""

from __future__ import annotations

import argparse
import csv
import io
import os
import subprocess
import sys
import tempfile
import time

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IGNORED = {"trial_key", "train_seconds", "search_seconds"}


def run(src: Path, config: Path, store: Path, quick: bool = False) -> tuple[float, list[dict]]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    command = [sys.executable, "-m", "sparsearch"]
    started = time.perf_counter()
    subprocess.run([*command, "run", str(config), "--quiet", "--store", str(store), *(["--quick"] if quick else [])],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    name = tomllib.loads(config.read_text())["experiment"]["name"] + ("-quick" if quick else "")  # as --quick names it
    supernet = tomllib.loads(config.read_text())["experiment"].get("kind") == "supernet"
    table = ["--evaluations", "--experiment", name] if supernet else []
    exported = subprocess.run([*command, "export", "--store", str(store), *table], env=env, check=True,
                              capture_output=True, text=True).stdout
    return seconds, list(csv.DictReader(io.StringIO(exported)))


def cut(config: Path, seeds: int | None, folder: Path) -> Path:
    """`config` with `seeds` seeds (as is when None), written into `folder`."""
    if seeds is None:
        return config
    import tomli_w

    raw = tomllib.loads(config.read_text())
    raw["experiment"]["seeds"] = seeds
    path = folder / config.name
    path.write_text(tomli_w.dumps(raw))
    return path


def metrics(rows: list[dict], columns: set[str]) -> list[dict]:
    return [{k: v for k, v in r.items() if k in columns and k not in IGNORED} for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base")
    parser.add_argument("config")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=None, help="cut the config to this many seeds")
    parser.add_argument("--quick", action="store_true", help="pass --quick to both runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base), args.base], check=True,
                       capture_output=True)
        try:
            times: dict[str, list[float]] = {"base": [], "head": []}
            exports = {}
            for r in range(args.rounds):
                for name, tree in (("base", base), ("head", ROOT)):
                    load = os.getloadavg()
                    folder = Path(tmp) / f"{name}-config"
                    folder.mkdir(exist_ok=True)
                    config = cut(tree / args.config, args.seeds, folder)
                    seconds, rows = run(tree / "src", config, Path(tmp) / f"{name}-{r}.db", args.quick)
                    times[name].append(seconds)
                    exports[name] = rows
                    print(f"round {r + 1} {name}: {seconds:.1f} s (load average before: "
                          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f})", flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)
    best = {name: min(values) for name, values in times.items()}
    print(f"fastest: base {best['base']:.1f} s, head {best['head']:.1f} s, speed-up {best['base'] / best['head']:.2f}x")
    shared = set(exports["base"][0] if exports["base"] else {}) & set(exports["head"][0] if exports["head"] else {})
    same = metrics(exports["base"], shared) == metrics(exports["head"], shared)
    keys = [r.get("trial_key") for r in exports["base"]] == [r.get("trial_key") for r in exports["head"]]
    differing = sorted({k for a, b in zip(metrics(exports["base"], shared), metrics(exports["head"], shared))
                        for k in a if a[k] != b.get(k)})
    print(f"exports: {len(exports['base'])} vs {len(exports['head'])} rows; metric columns both have identical row "
          f"for row: {same}{'' if same else f' (differ: {differing})'}; trial keys identical: {keys}")


if __name__ == "__main__":
    main()
