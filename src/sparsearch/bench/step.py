"""One training step of a population, timed against its ceiling.

For each shape (P networks of widths w, batch B) in one sitting:
- `gemm`: only the matrix products the engine's step executes (per layer: the forward
  `baddbmm`, the weight- and bias-gradient GEMMs, the input-gradient `bmm` except for the first
  layer) on tensors of the step's shapes: the ceiling of this formulation, in fp32 and bf16;
- `engine`: the engine's step (nets/mlp_step.py and the flat optimizer) in fp32 and bf16;
- `autograd`: the step as the engine took it before (recipe version 1): autograd through the
  forward pass and `torch.optim` over per-layer tensors, fp32.
Each is the fastest mean over `repeats` rounds of `steps` steps."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from ..config import TrainConfig
from ..engine.optim import FlatOptimizer, make_optimizer
from ..engine.step import per_network_loss
from ..nets.base import stacked
from ..nets.mlp import forward, init_parent
from ..nets.mlp_step import loss_and_grads

ROUNDS = 5


def fastest_ms(step: Callable[[], object], steps: int = 20, repeats: int = ROUNDS, warmup: int = 3) -> float:
    """Milliseconds per call of `step`: the fastest mean over `repeats` rounds, after `warmup` calls."""
    for _ in range(warmup):
        step()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, (time.perf_counter() - start) / steps)
    return 1e3 * best


def _population(widths: tuple[int, ...], population: int, batch: int):
    parents = [init_parent(widths, seed) for seed in range(population)]
    layers = stacked(parents)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(population, batch, widths[0], generator=gen)
    y = torch.randint(0, widths[-1], (population, batch), generator=gen)
    return layers, x, y


def gemm_step(widths: tuple[int, ...], population: int, batch: int, dtype: torch.dtype) -> Callable[[], None]:
    """The matrix products of one engine step, alone."""
    gen = torch.Generator().manual_seed(0)
    acts = [torch.randn(population, batch, w, generator=gen).to(dtype) for w in widths]
    weights = [torch.randn(population, a, b, generator=gen).to(dtype) for a, b in zip(widths[:-1], widths[1:])]
    biases = [torch.randn(population, 1, b, generator=gen).to(dtype) for b in widths[1:]]
    ones = torch.ones(population, 1, batch, dtype=dtype)
    grads = [torch.zeros(population, a, b) for a, b in zip(widths[:-1], widths[1:])]
    bias_grads = [torch.zeros(population, 1, b) for b in widths[1:]]

    def step():
        for i, (w, b) in enumerate(zip(weights, biases)):
            torch.baddbmm(b, acts[i], w)
            if dtype == torch.float32:
                grads[i].baddbmm_(acts[i].transpose(1, 2), acts[i + 1], beta=0.9)
                bias_grads[i].baddbmm_(ones, acts[i + 1], beta=0.9)
            else:
                torch.bmm(acts[i].transpose(1, 2), acts[i + 1])
                torch.bmm(ones, acts[i + 1])
            if i > 0:
                torch.bmm(acts[i + 1], w.transpose(1, 2))

    return step


def engine_step(widths: tuple[int, ...], population: int, batch: int, dtype: torch.dtype) -> Callable[[], None]:
    layers, x, y = _population(widths, population, batch)
    optimizer = FlatOptimizer(layers, TrainConfig(), steps_per_epoch=1)  # a constant rate: any count

    def step():
        loss_and_grads(optimizer.params, x, y, optimizer.grads, optimizer.decay, dtype)
        optimizer.step()

    return step


def autograd_step(widths: tuple[int, ...], population: int, batch: int) -> Callable[[], None]:
    layers, x, y = _population(widths, population, batch)
    params = [(w.clone().requires_grad_(True), b.clone().requires_grad_(True)) for w, b in layers]
    optimizer = make_optimizer([t for pair in params for t in pair], TrainConfig())

    def step():
        loss = per_network_loss(forward, params, x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        optimizer.step()

    return step


def step_row(widths: tuple[int, ...], population: int, batch: int) -> dict:
    """Milliseconds per step of every variant at one shape, and the ratios that matter."""
    row = {
        "widths": list(widths), "population": population, "batch": batch,
        "gemm_fp32_ms": fastest_ms(gemm_step(widths, population, batch, torch.float32)),
        "gemm_bf16_ms": fastest_ms(gemm_step(widths, population, batch, torch.bfloat16)),
        "engine_fp32_ms": fastest_ms(engine_step(widths, population, batch, torch.float32)),
        "engine_bf16_ms": fastest_ms(engine_step(widths, population, batch, torch.bfloat16)),
        "autograd_fp32_ms": fastest_ms(autograd_step(widths, population, batch)),
    }
    row["fp32_vs_ceiling"] = row["engine_fp32_ms"] / row["gemm_fp32_ms"]
    row["bf16_vs_ceiling"] = row["engine_bf16_ms"] / row["gemm_bf16_ms"]
    row["bf16_speedup_vs_autograd_fp32"] = row["autograd_fp32_ms"] / row["engine_bf16_ms"]
    return row


STEP_COLUMNS = (
    ("shape", "<", lambda r: f"{'-'.join(map(str, r['widths']))} P={r['population']} B={r['batch']}"),
    ("GEMMs fp32", ">", lambda r: f"{r['gemm_fp32_ms']:.2f}"),
    ("step fp32", ">", lambda r: f"{r['engine_fp32_ms']:.2f}"),
    ("/ceiling", ">", lambda r: f"{r['fp32_vs_ceiling']:.2f}x"),
    ("GEMMs bf16", ">", lambda r: f"{r['gemm_bf16_ms']:.2f}"),
    ("step bf16", ">", lambda r: f"{r['engine_bf16_ms']:.2f}"),
    ("/ceiling", ">", lambda r: f"{r['bf16_vs_ceiling']:.2f}x"),
    ("v1 autograd fp32", ">", lambda r: f"{r['autograd_fp32_ms']:.2f}"),
    ("bf16 vs v1", ">", lambda r: f"{r['bf16_speedup_vs_autograd_fp32']:.2f}x"),
)
