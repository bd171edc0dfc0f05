"""The conv ceiling: a conv workload's convolutions and dense products timed alone.

For one training batch of the whole population (P networks at their compacted shapes, batch
B = the recipe's batch size, or the training set when smaller), split into the chunks the engine
trains one after another (engine/chunking.py's `chunk_slices` at the default memory budget: a
CIFAR-sized parent trains one network at a time), every weighted layer runs its product exactly
as the engine's population form runs it on a chunk, on random inputs of the shape that layer
sees in training, and nothing else: no activation, pooling, BatchNorm, loss, optimizer,
data or Python per-network work. Per layer:
- the forward product: a convolution as the engine's form for that parent computes it
  (nets/conv.py's `grouped_convolution`, `groups` = P, or its `convolve`, im2col patches and one
  `baddbmm`, for a parent run as im2col); a dense layer one `baddbmm` with its bias;
- its backward: the weight and bias gradients, and the input gradient except for the first layer
  (no method computes a gradient of the data), by `torch.autograd.grad` of that one product.
The layers' time for each distinct chunk size is the fastest of a few rounds after a warm-up,
summed over the chunks. The ceiling's FLOPs follow the
bench's convention (measure.py's `training_flops`): 3x the forward FLOPs, 2 per multiply-add of
a layer's weights at every output position, times B and P; so a method's GFLOP/s over the
ceiling's is the time these products alone take over the time the method takes for the same
training work (evaluation forwards counted at the same rate).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ..engine.chunking import chunk_slices
from ..nets.base import Params, population_size, rows
from ..nets.conv import ConvNet, convolve, grouped_convolution
from ..nets.resnet20 import ResNet20
from .measure import synchronize
from .step import fastest_ms


@dataclass(frozen=True)
class Product:
    """One weighted layer of a population: `run(x, *weights)` on an input of `input_shape`."""

    run: Callable[..., Tensor]
    input_shape: tuple[int, ...]
    weights: tuple[Tensor, ...]
    input_grad: bool


@dataclass(frozen=True)
class Ceiling:
    """The products' nominal training FLOPs (3x forward) for one batch of the population, their
    time, and the chunk sizes they ran in."""

    flops: int
    seconds: float
    chunks: tuple[int, ...]

    @property
    def gflops(self) -> float:
        return self.flops / self.seconds / 1e9


def products(parent, params: Params, batch: int) -> list[Product]:
    """The weighted layers of `parent` (a `ConvNet` or `ResNet20`) with the stacked `params`, as
    the engine's population form runs them on a batch of `batch` examples."""
    population = population_size(params)
    if isinstance(parent, ResNet20):
        convs = [(stride, 1, space, layer[0], None) for (stride, space), layer in zip(parent.conv_inputs, params)]
        im2col = False
    elif isinstance(parent, ConvNet):
        spaces = [parent.input_shape[1:], *parent.sizes[1::2]]
        convs = [(spec.stride, spec.padding, space, w, b) for spec, space, (w, b) in zip(parent.convs, spaces, params)]
        im2col = parent.population_layout == "im2col"
    else:
        raise TypeError(f"no conv ceiling for parent kind {parent.kind!r}")
    out = []
    for i, (stride, padding, space, w, b) in enumerate(convs):
        channels, kernel = w.shape[2], w.shape[-1]
        weights = (w, b) if b is not None else (w,)
        if im2col:
            shape = (population, batch, *space, channels)
            run = _im2col(kernel, stride, padding)
        else:
            shape = (batch, population * channels, *space)
            run = _grouped(stride, padding)
        out.append(Product(run, shape, weights, i > 0))
    for w, b in params[len(convs):]:
        out.append(Product(_dense, (population, batch, w.shape[2]), (w, b), True))
    return out


def forward_flops(product: Product, output: Tensor) -> int:
    """2 per multiply-add: every network's weights at each output position, for every example."""
    w = product.weights[0]
    population = w.shape[0]
    positions = output.numel() // (population * w.shape[1])
    return 2 * math.prod(w.shape[1:]) * population * positions


def conv_ceiling(parent, params: Params, batch: int, repeats: int = 2, device: str = "cpu") -> Ceiling:
    """Time one training batch of the population's `products` alone on `device`, chunk by chunk
    as the engine trains it (each distinct chunk size: fastest of `repeats` rounds after one warm-up)."""
    sizes = [part.stop - part.start
             for part in chunk_slices(population_size(params), parent.footprint(params, batch), batch)]
    flops, seconds = 0, 0.0
    for size in sorted(set(sizes)):
        chunk = _chunk_ceiling(parent, rows(params, slice(0, size)), batch, repeats, device)
        flops += chunk.flops * sizes.count(size)
        seconds += chunk.seconds * sizes.count(size)
    return Ceiling(flops, seconds, tuple(sizes))


def _chunk_ceiling(parent, params: Params, batch: int, repeats: int, device: str) -> Ceiling:
    gen = torch.Generator().manual_seed(0)
    prepared = []
    flops = 0
    for product in products(parent, params, batch):
        x = torch.randn(product.input_shape, generator=gen).to(device).requires_grad_(product.input_grad)
        weights = [t.detach().to(device, copy=True).requires_grad_(True) for t in product.weights]
        with torch.no_grad():
            y = product.run(x, *weights)
        flops += forward_flops(product, y)
        inputs = [x, *weights] if product.input_grad else weights
        prepared.append((product.run, x, weights, inputs, torch.randn(y.shape, generator=gen).to(device)))

    def step():
        for run, x, weights, inputs, grad in prepared:
            torch.autograd.grad(run(x, *weights), inputs, grad)
        synchronize(device)

    return Ceiling(3 * flops, fastest_ms(step, steps=1, repeats=repeats, warmup=1) / 1e3, (population_size(params),))


def _grouped(stride: int, padding: int) -> Callable[..., Tensor]:
    return lambda x, w, b=None: grouped_convolution(x, w, b, stride, padding)


def _im2col(kernel: int, stride: int, padding: int) -> Callable[..., Tensor]:
    return lambda x, w, b: convolve(x, w, b, kernel, stride, padding)


def _dense(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))
