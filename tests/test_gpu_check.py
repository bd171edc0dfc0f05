"""benchmarks/gpu_check.py: its smoke run on the CPU prints one table with every check, and
`--device cuda` without a GPU says so in one line and exits 2."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent


def gpu_check(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "benchmarks/gpu_check.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)


def test_smoke_run_prints_every_check():
    done = gpu_check("--device", "cpu", "--smoke")
    assert done.returncode == 0, done.stderr
    rows = [line.split(" | ") for line in done.stdout.splitlines() if line.startswith("| ")]
    checks = {row[0].removeprefix("| ") for row in rows[2:]}
    assert checks == {"tests", "bench mlp", "bench cnn1d", "bench resnet20", "bench vit", "bf16 parity"}
    assert next(row for row in rows if row[0] == "| tests")[2:] == ["1 passed, 0 failed, 0 skipped", "ok |"]
    for kind in ("resnet20", "vit"):
        methods = [row[1].rsplit(" ", 1)[1] for row in rows if row[0] == f"| bench {kind}"]
        assert methods == ["plain", "torch.func", "engine"]
    assert "device: cpu" in done.stdout and f"torch {torch.__version__}" in done.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_cuda_without_a_gpu_measures_nothing():
    done = gpu_check()
    assert done.returncode == 2
    assert done.stdout == f"no CUDA GPU here (torch {torch.__version__}, cuda available: False); nothing measured\n"
