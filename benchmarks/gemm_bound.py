"""The most any batching of `sparsearch bench --vit`'s workload (the digits vit) can gain over its
plain loop on this CPU: the plain loop's training step, its matrix products' FLOPs and share of
the step (`torch.profiler`, `with_flops`: mm, addmm, bmm, baddbmm), and the speed-up of a method
whose products all ran at the `torch.mm` peak and whose every other op took no time (the plain
step's time over its products' FLOPs at the peak).

    python benchmarks/gemm_bound.py

One network, one training step (forward, backward, optimizer step) of the workload's recipe at
its batch, fastest of `--repeats` after a warm-up. Run it on a quiet machine."""

from __future__ import annotations

import argparse
import os
import time

import torch
from torch.profiler import ProfilerActivity, profile

from sparsearch.bench import vit_workloads, workload_parent, workload_recipe
from sparsearch.bench.data import bench_dataset
from sparsearch.bench.measure import matmul_peak_gflops
from sparsearch.engine.optim import make_optimizer
from sparsearch.engine.precision import bf16_path
from sparsearch.measure.trials import cpu_model

PRODUCTS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")


def plain_step(threads: int):
    """One network of the workload as the plain loop trains it: (step function, its recipe)."""
    workload = vit_workloads((1,))[0]
    data = bench_dataset(workload.dataset)
    parent, recipe = workload_parent(workload, data), workload_recipe(workload, 1, threads)
    module = parent.module(parent.init(0))
    optimizer = make_optimizer(list(module.parameters()), recipe)
    x, y = data.x_train[: recipe.batch_size], data.y_train[: recipe.batch_size]

    def step():
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(module(x), y).backward()
        optimizer.step()
    return step, recipe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    step, recipe = plain_step(args.threads)
    for _ in range(3):
        step()
    best = float("inf")
    for _ in range(args.repeats):
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        step()
    events = [e for e in prof.key_averages() if e.key in PRODUCTS]
    flops = sum(e.flops for e in events)
    product_s = sum(e.self_cpu_time_total for e in events) / 1e6
    total_s = sum(e.self_cpu_time_total for e in prof.key_averages()) / 1e6
    peak = matmul_peak_gflops()
    print(f"CPU {cpu_model()!r}, bf16 path {bf16_path()}, {args.threads} threads, load average "
          f"{os.getloadavg()[0]:.2f}; digits vit, batch {recipe.batch_size}")
    share = product_s / total_s
    print(f"plain step {best * 1e3:.2f} ms (fastest of {args.repeats}); products {flops / 1e6:.0f} MFLOP, "
          f"{share:.0%} of the profiled step's op time (about {flops / (share * best) / 1e9:.0f} GFLOP/s)")
    print(f"torch.mm peak {peak:.0f} GFLOP/s: products at the peak take {flops / peak / 1e6:.2f} ms, "
          f"so no method beats this plain loop by more than {best / (flops / peak / 1e9):.2f}x")


if __name__ == "__main__":
    main()
