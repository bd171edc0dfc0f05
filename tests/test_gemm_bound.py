"""benchmarks/gemm_bound.py: the profiler's count of the plain vit step's matrix-product FLOPs is
3x the forward FLOPs of the parent's own cost (`ViT.cost`) at the workload's batch, and the bound
it prints is the step's time over those FLOPs at the printed peak."""

import os
import re
import subprocess
import sys
from pathlib import Path

from sparsearch.config import ParentConfig
from sparsearch.nets import build_parent
from sparsearch.spaces.node import NodeMask

ROOT = Path(__file__).resolve().parent.parent


def test_products_are_three_forwards_and_the_bound_follows():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "benchmarks/gemm_bound.py", "--repeats", "1", "--threads", "1"], cwd=ROOT,
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    parent = build_parent(ParentConfig(kind="vit"), (1, 8, 8), 10)
    forward = parent.cost(NodeMask(tuple(tuple(range(g)) for g in parent.groups))).flops
    step, mflop = map(float, re.search(r"plain step ([\d.]+) ms .*products (\d+) MFLOP", done.stdout).groups())
    assert mflop == round(3 * 64 * forward / 1e6)
    peak, at_peak, bound = map(float, re.search(r"peak (\d+) GFLOP/s: products at the peak take ([\d.]+) ms, .* "
                                                r"more than ([\d.]+)x", done.stdout).groups())
    assert abs(at_peak - 3 * 64 * forward / peak / 1e6) < 0.01 * at_peak + 0.01
    rounding = bound * (0.005 / at_peak + 0.005 / step) + 0.005  # the printed figures' last digits
    assert abs(bound - step / at_peak) <= rounding + 1e-9
    assert "bf16 path" in done.stdout and "load average" in done.stdout
