"""The engine's epoch time on vit (digits), ResNet-20 and Conv-4 (CIFAR-shaped) at P = 16, in
the chunks engine/chunking.py's activation cap gives and in as few chunks as the memory budget
allows (the cap lifted), 1 epoch, fastest of 2 each, side by side in one process.

    python benchmarks/chunk_cap.py

Each workload's recipe is `sparsearch bench`'s. Run it on a quiet machine."""

from __future__ import annotations

import os
import time

import torch

from sparsearch.bench import Networks, conv_workloads, train_with, vit_workloads, workload_parent, workload_recipe
from sparsearch.bench.data import bench_dataset
from sparsearch.engine import chunking
from sparsearch.engine.precision import bf16_path
from sparsearch.measure.trials import cpu_model

POPULATION = 16
LIFTED = 2**40


def epoch_seconds(nets: Networks, data, recipe, cap: int) -> tuple[int, float]:
    """(chunks, fastest of 2 epoch times) of the engine with the activation cap at `cap` bytes."""
    chunking.ACTIVATION_BYTES, default = cap, chunking.ACTIVATION_BYTES
    try:
        chunks = len(chunking.chunk_slices(POPULATION, nets.parent.footprint(nets.compacted(), recipe.batch_size),
                                           recipe.batch_size))
        train_with("engine", nets, data, recipe)  # warm-up
        best = float("inf")
        for _ in range(2):
            start = time.perf_counter()
            train_with("engine", nets, data, recipe)
            best = min(best, time.perf_counter() - start)
        return chunks, best
    finally:
        chunking.ACTIVATION_BYTES = default


def main() -> None:
    torch.set_num_threads(2)
    print(f"CPU: {cpu_model()} (bf16 path: {bf16_path()}), 2 threads, load average {os.getloadavg()[0]:.2f}")
    for w in vit_workloads((POPULATION,)) + conv_workloads((POPULATION,), ["conv4", "resnet20"]):
        data = bench_dataset(w.dataset)
        nets = Networks.build(workload_parent(w, data), 0.0, POPULATION)
        recipe = workload_recipe(w, 1, 2)
        (capped, t_capped), (lifted, t_lifted) = (epoch_seconds(nets, data, recipe, cap)
                                                  for cap in (chunking.ACTIVATION_BYTES, LIFTED))
        print(f"{w.kind}: capped {capped} chunks {t_capped:.2f} s, lifted {lifted} chunks {t_lifted:.2f} s: "
              f"capped is {t_lifted / t_capped:.2f}x", flush=True)


if __name__ == "__main__":
    main()
