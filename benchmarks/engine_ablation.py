"""Where the engine's time goes: train the digits parent at population 64 for 2 epochs as is,
without per-epoch evaluation, and without ReLU (each part replaced by a no-op), best of 3 each;
then time the batched GEMM + ReLU of the first layer alone at the training shapes.

    .venv/bin/python benchmarks/engine_ablation.py
"""

from __future__ import annotations

import time
from unittest import mock

import torch

from sparsearch.bench import Networks
from sparsearch.config import DataConfig, TrainConfig
from sparsearch.data import load_dataset
from sparsearch.engine import trainer
from sparsearch.nets.mlp import MLP, parent_widths

POPULATION = 64


def best_rate(parent, layers, data, repeats: int = 3) -> float:
    seeds = list(range(POPULATION))
    trainer.train_population(parent, layers, seeds, data, TrainConfig(epochs=1))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        trainer.train_population(parent, layers, seeds, data, TrainConfig(epochs=2))
        best = min(best, time.perf_counter() - start)
    return POPULATION * 2 / best


def gemm_relu_gflops(population: int, rows: int = 64, fan_in: int = 64, fan_out: int = 300) -> float:
    x, w, b = torch.randn(population, rows, fan_in), torch.randn(population, fan_in, fan_out), torch.randn(population, fan_out)
    torch.relu_(torch.baddbmm(b.unsqueeze(1), x, w))
    start = time.perf_counter()
    for _ in range(50):
        torch.relu_(torch.baddbmm(b.unsqueeze(1), x, w))
    return 2 * population * rows * fan_in * fan_out * 50 / (time.perf_counter() - start) / 1e9


def main() -> None:
    torch.set_num_threads(2)
    data = load_dataset(DataConfig())
    parent = MLP(parent_widths(64, [300, 100], 10))
    layers = Networks.build(parent, 0.0, POPULATION).compacted()
    full = best_rate(parent, layers, data)
    population = torch.zeros(POPULATION)
    with mock.patch.object(trainer, "evaluate", lambda *a: (population, population)):
        no_eval = best_rate(parent, layers, data)
    with mock.patch.object(torch, "relu_", lambda h: h):
        no_relu = best_rate(parent, layers, data)
    print(f"net-epochs/s at population {POPULATION}: full {full:.1f}, without evaluation {no_eval:.1f} "
          f"(+{100 * (no_eval / full - 1):.0f}%), without ReLU {no_relu:.1f} (+{100 * (no_relu / full - 1):.0f}%)")
    for p in (32, 64, 256):
        print(f"baddbmm + ReLU, {p} x (64 x 64 @ 64 x 300): {gemm_relu_gflops(p):.0f} GFLOP/s")


if __name__ == "__main__":
    main()
