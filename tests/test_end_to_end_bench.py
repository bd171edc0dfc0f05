"""benchmarks/end_to_end.py: `sparsearch run` against the plain loop on a tiny config, and its
refusal of a config whose networks have more than one shape."""

import os
import re
import subprocess
import sys
from pathlib import Path

import tomli_w

ROOT = Path(__file__).resolve().parent.parent
TINY = {"experiment": {"name": "tiny", "seeds": 3}, "data": {"name": "digits"}, "parent": {"hidden": [12, 6]},
        "train": {"epochs": 1}, "search": {"space": "node", "sparsities": [0.5], "arms": ["random"]}}


def end_to_end(config: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "c.toml"
    path.write_text(tomli_w.dumps(config))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "benchmarks/end_to_end.py", str(path), "--runs", "1", "--plain-networks", "2"],
                          cwd=ROOT, env=env, capture_output=True, text=True)


def test_it_times_the_run_and_the_plain_loop_scaled_to_every_network(tmp_path):
    done = end_to_end(TINY, tmp_path)
    assert done.returncode == 0, done.stderr
    cpu, line = done.stdout.splitlines()
    assert cpu.startswith("CPU: ") and "bf16 path: " in cpu
    assert re.fullmatch(r"c\.toml: 3 networks; sparsearch run [\d.]+ s, plain loop [\d.]+ s \(from 2 networks\): "
                        r"[\d.]+x; per round [\d.]+-[\d.]+x, median [\d.]+x; load average after [\d. ]+", line), line
    assert done.stderr.count("load average before") == 2
    assert re.search(r"rounds \(run, plain\): [\d.]+ s / [\d.]+ s\n", done.stderr), done.stderr


def test_a_config_of_two_arms_is_refused_in_one_line(tmp_path):
    config = {**TINY, "search": {**TINY["search"], "arms": ["dense", "random"]}}
    done = end_to_end(config, tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].endswith("arms ['dense', 'random']")
