"""GPU readiness: the CUDA tests, the engine against the plain loop and torch.func, and bf16 parity, in one table.

    python benchmarks/gpu_check.py                      # on a CUDA machine (--device cuda)
    python benchmarks/gpu_check.py --device cpu --smoke # the same checks at tiny sizes (tests/test_gpu_check.py)

Run from the repository root. It runs, on the device:
1. the tests that need CUDA (tests/test_device.py, the 2:4 test of tests/test_measure.py) with
   `python -m pytest -q`, reporting passed / failed / skipped (`--smoke`: one CPU test of them);
2. `sparsearch bench`'s methods (src/sparsearch/bench: the plain per-network loop, torch.func
   ensembling and the population engine) on an MLP (digits, 64-300-100-10), the MNIST-1D CNN
   (`cnn1d`) and ResNet-20 on synthetic CIFAR-shaped data (3x32x32, 10 classes): networks x
   epochs per second and the ratio to the plain loop;
3. bf16 parity: the digits MLP population trained by the engine in fp32 and in bf16, the mean
   paired difference of final test accuracy in points (within benchmarks/precision_parity.py's
   tolerance or not).

It prints the device, torch and CUDA versions and one Markdown table (check, workload, figure,
unit / verdict). Exit code 0 when every check ran, 1 when a test failed, 2 when `--device cuda`
finds no CUDA GPU (one line, nothing measured).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import torch

from precision_parity import TOLERANCE
from sparsearch.bench import (Networks, Workload, workload_parent, workload_recipe, run_bench, workload_label,
                              vit_workloads)
from sparsearch.bench.data import CIFAR_SHAPED, cifar_shaped
from sparsearch.config import DataConfig
from sparsearch.data import Dataset, load_dataset
from sparsearch.engine.device import prepare
from sparsearch.engine.trainer import train_population

ROOT = Path(__file__).resolve().parent.parent
CUDA_TESTS = ["tests/test_device.py", "tests/test_measure.py::test_two_of_four_is_timed_against_dense_on_cuda"]
SMOKE_TESTS = ["tests/test_device.py::test_auto_is_the_cpu_without_a_gpu"]


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How big each check is: populations (MLP, cnn1d, ResNet-20, vit, bf16 parity), epochs, examples."""

    mlp: int
    cnn1d: int
    resnet20: int
    vit: int
    parity: int
    epochs: int
    parity_epochs: int
    repeats: int
    plain_max: int
    examples: int | None  # None: every example of digits and MNIST-1D
    cifar: int  # synthetic CIFAR-shaped training examples


FULL = Sizes(mlp=256, cnn1d=64, resnet20=16, vit=16, parity=16, epochs=3, parity_epochs=10, repeats=2, plain_max=16,
             examples=None, cifar=2048)
SMOKE = Sizes(mlp=2, cnn1d=2, resnet20=2, vit=2, parity=2, epochs=1, parity_epochs=1, repeats=1, plain_max=1,
              examples=120, cifar=32)


def run_tests(tests: list[str]) -> tuple[str, bool]:
    """`python -m pytest -q` on `tests` with this checkout's code: its summary counts and whether it passed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    counts = dict((word, int(n)) for n, word in re.findall(r"(\d+) (passed|failed|skipped|errors?)", done.stdout))
    summary = ", ".join(f"{counts.get(w, 0)} {w}" for w in ("passed", "failed", "skipped"))
    if counts.get("error", 0) + counts.get("errors", 0):
        summary += f", {counts.get('error', 0) + counts.get('errors', 0)} errors"
    return summary, done.returncode == 0


def head(data: Dataset, n: int | None) -> Dataset:
    """The first `n` examples of every split (all of them when `n` is None)."""
    if n is None:
        return data
    return dataclasses.replace(data, **{name: getattr(data, name)[:n] for name in
                                        ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")})


def bench_rows(sizes: Sizes, device: str, smoke: bool) -> list[tuple[str, str, str, str]]:
    """The bench's methods on the MLP, cnn1d, ResNet-20 and vit workloads: one row per method."""
    workloads = [Workload("digits", (300, 100), sizes.mlp, 0.0), Workload("mnist1d", (), sizes.cnn1d, 0.0, "cnn1d"),
                 Workload(CIFAR_SHAPED, (), sizes.resnet20, 0.0, "resnet20"), *vit_workloads((sizes.vit,))]
    datasets = {"digits": head(load_dataset(DataConfig(name="digits")), sizes.examples),
                "mnist1d": head(load_dataset(DataConfig(name="mnist1d")), sizes.examples),
                CIFAR_SHAPED: cifar_shaped(sizes.cifar, sizes.cifar // 4, sizes.cifar // 4)}
    peaks = {"fp32": float("nan"), "bf16": float("nan")} if smoke else None  # seconds each on a CPU
    result = run_bench(workloads, epochs=sizes.epochs, threads=torch.get_num_threads(), plain_max=sizes.plain_max,
                       repeats=sizes.repeats, step_shapes=False, device=device, datasets=datasets, peaks=peaks)
    rows = [] if smoke else [("matmul peak", precision, f"{gflops:.0f}", "GFLOP/s")
                             for precision, gflops in result.peaks.items()]
    for r in result.rows:
        rows.append((f"bench {r['kind']}", f"{workload_label(r)} {r['method']}", f"{r['net_epochs_per_s']:.1f}",
                     f"net-epochs/s ({r['vs_plain']:.2f}x plain)"))
    return rows


def parity_row(sizes: Sizes, device: str) -> tuple[str, str, str, str]:
    """The digits MLP population trained in fp32 and bf16: mean final test accuracy difference in points."""
    w = Workload("digits", (300, 100), sizes.parity, 0.0)
    data = head(load_dataset(DataConfig(name="digits")), sizes.examples)
    recipe, parent = workload_recipe(w, sizes.parity_epochs, torch.get_num_threads()), workload_parent(w, data)
    accuracy = {}
    for precision in ("fp32", "bf16"):
        nets = Networks.build(parent, w.sparsity, w.population)
        curves = train_population(parent, nets.compacted(), nets.seeds, data, recipe, precision=precision,
                                  device=device)
        accuracy[precision] = curves.test_acc[:, -1]
    diff = 100 * (accuracy["bf16"] - accuracy["fp32"]).mean().item()
    verdict = "within" if abs(diff) <= TOLERANCE else "OUTSIDE"
    return ("bf16 parity", f"digits 300-100 P={w.population}, {sizes.parity_epochs} epochs", f"{diff:+.2f}",
            f"points bf16 - fp32 test acc ({verdict} {TOLERANCE})")


def device_name(device: str) -> str:
    return torch.cuda.get_device_name() if device == "cuda" else platform.processor() or platform.machine()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="where everything runs")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and one test (exercises the script)")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"no CUDA GPU here (torch {torch.__version__}, cuda available: False); nothing measured")
        return 2
    prepare(args.device)
    sizes = SMOKE if args.smoke else FULL
    summary, passed = run_tests(SMOKE_TESTS if args.smoke else CUDA_TESTS)
    rows = [("tests", "CUDA tests" if not args.smoke else "smoke selection", summary, "ok" if passed else "FAILED")]
    rows += bench_rows(sizes, args.device, args.smoke)
    rows.append(parity_row(sizes, args.device))
    print(f"device: {args.device} ({device_name(args.device)}), torch {torch.__version__}, CUDA {torch.version.cuda}\n")
    print("| check | workload | figure | unit / verdict |\n| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
