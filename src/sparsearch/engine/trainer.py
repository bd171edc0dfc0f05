"""Train P networks at once: stacked parameters, one bmm per layer, one optimizer step for all.

Each network's loss is the mean cross-entropy over its own mini-batch; the population loss
is their sum, so every network receives exactly the gradient it would receive alone, and the
optimizers (SGD with momentum, Adam) act elementwise. A network trained inside a population
therefore follows the same trajectory as trained alone (tests/test_engine.py holds that).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import TrainConfig
from ..data import Dataset
from ..nets.base import Parent
from ..nets.mlp import Layers
from ..seeding import generator
from .chunking import DEFAULT_MAX_MEMORY, chunk_slices
from .masking import Masking, StepHook

Forward = Callable[[Layers, Tensor], Tensor]

EVAL_CACHE_BYTES = 8 * 2**20
"""Evaluation runs on chunks of examples whose widest activation, P x rows x width floats,
stays about this size: a cache-sized working set (larger ones make evaluation memory-bound)."""


@dataclass
class Curves:
    """Per-epoch records of a population, each [P, epochs], its final (masked) parameters,
    final weight masks (if masked) and, if asked for, the parameters after one epoch."""

    train_loss: Tensor
    val_acc: Tensor
    test_acc: Tensor
    seconds: float
    final: Layers | None = None
    masks: list[Tensor] | None = None
    snapshot: Layers | None = None


def make_optimizer(params: list[Tensor], recipe: TrainConfig) -> torch.optim.Optimizer:
    """The recipe's optimizer over stacked parameters (elementwise, so per-network exact).

    torch's default (foreach) kernels, not the fused ones: fused SGD is ~7% faster here but its
    results depend on an element's position in the stacked tensor, which would make a network's
    numbers depend on its population (measured with torch 2.13 CPU)."""
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(params, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)
    return torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay)


def trainable(layers: Layers) -> Layers:
    """Copies of `layers` that require grad (the caller's tensors are never modified)."""
    return [(w.clone().requires_grad_(True), b.clone().requires_grad_(True)) for w, b in layers]


def batch_orders(order_seeds: list[int], n: int, batch_size: int) -> Iterator[Tensor]:
    """Endless mini-batch indices [P, b]: network p reads the training set in the order of
    its seed, one fresh permutation per epoch; networks sharing a seed share the order."""
    unique = sorted(set(order_seeds))
    gens = {s: generator("data-order", s) for s in unique}
    rows = torch.tensor([unique.index(s) for s in order_seeds])
    while True:
        perms = torch.stack([torch.randperm(n, generator=gens[s]) for s in unique])[rows]
        for start in range(0, n, batch_size):
            yield perms[:, start : start + batch_size]


def per_network_loss(forward: Forward, layers: Layers, x: Tensor, y: Tensor) -> Tensor:
    """Mean cross-entropy of each network on its own batch: x [P, B, in], y [P, B] -> [P]."""
    logits = forward(layers, x)
    losses = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none")
    return losses.view(y.shape).mean(1)


def sgd_steps(
    forward: Forward, layers: Layers, optimizer, data: Dataset, batches: Iterator[Tensor], steps: int,
    masking: Masking | None = None,
) -> Tensor:
    """Run `steps` optimizer steps; return the example-weighted mean training loss [P]."""
    total = torch.zeros(layers[0][0].shape[0], dtype=torch.float64)
    seen = 0
    for _ in range(steps):
        idx = next(batches)
        loss = per_network_loss(forward, layers, data.x_train[idx], data.y_train[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        optimizer.step()
        if masking is not None:
            masking.after_step(layers)
        total += loss.detach().double() * idx.shape[1]
        seen += idx.shape[1]
    return (total / seen).float()


@torch.no_grad()
def evaluate(forward: Forward, layers: Layers, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """(mean loss, accuracy) of every network on the shared examples x [N, in]: two [P] tensors."""
    population = layers[0][0].shape[0]
    loss_sum = torch.zeros(population, dtype=torch.float64)
    correct = torch.zeros_like(loss_sum)
    widest = max(w.shape[2] for w, _ in layers)
    rows = max(16, EVAL_CACHE_BYTES // (4 * population * widest))
    for start in range(0, x.shape[0], rows):
        xb, yb = x[start : start + rows], y[start : start + rows]
        logits = forward(layers, xb)
        target = yb.expand(logits.shape[0], -1)
        loss_sum += F.cross_entropy(logits.transpose(1, 2), target, reduction="none").double().sum(1)
        correct += (logits.argmax(-1) == target).double().sum(1)
    return (loss_sum / x.shape[0]).float(), (correct / x.shape[0]).float()


def steps_per_epoch(n: int, batch_size: int) -> int:
    return -(-n // batch_size)


def train_population(
    forward: Forward,
    layers: Layers,
    order_seeds: list[int],
    data: Dataset,
    recipe: TrainConfig,
    on_epoch: Callable[[int], None] | None = None,
    masks: list[Tensor] | None = None,
    hooks: list[StepHook | None] | None = None,
    snapshot_epoch: int | None = None,
    max_memory: int = DEFAULT_MAX_MEMORY,
    evaluate_epochs: bool = True,
) -> Curves:
    """Train the stacked networks `layers` for `recipe.epochs`; network p reads data in the
    order of `order_seeds[p]`. With `masks` (bool [P, in, out] per layer) the weights are
    masked throughout, and `hooks` may change a network's mask after any step. Returns
    per-epoch train loss, val and test accuracy (empty [P, 0] without `evaluate_epochs`, for
    trainings whose curves nobody reads), and the final parameters and masks.

    The population is trained in chunks (`chunking.py`) within `max_memory` bytes."""
    widths = (layers[0][0].shape[1], *(w.shape[2] for w, _ in layers))
    parts = []
    for part in chunk_slices(len(order_seeds), widths, recipe.batch_size, max_memory):
        parts.append(
            _train_chunk(
                forward, [(w[part], b[part]) for w, b in layers], order_seeds[part], data, recipe, on_epoch,
                None if masks is None else [m[part] for m in masks], None if hooks is None else hooks[part],
                snapshot_epoch, evaluate_epochs,
            )
        )
    return _joined(parts)


def _train_chunk(forward, layers, order_seeds, data, recipe, on_epoch, masks, hooks, snapshot_epoch,
                 evaluate_epochs) -> Curves:
    start = time.perf_counter()
    params = trainable(layers)
    masking = None if masks is None else Masking(masks, hooks)
    if masking is not None:
        masking.zero_pruned(params)
    optimizer = make_optimizer([t for pair in params for t in pair], recipe)
    n = data.x_train.shape[0]
    batches = batch_orders(order_seeds, n, recipe.batch_size)
    losses, vals, tests = [], [], []
    snapshot = None
    for epoch in range(1, recipe.epochs + 1):
        losses.append(
            sgd_steps(forward, params, optimizer, data, batches, steps_per_epoch(n, recipe.batch_size), masking)
        )
        if evaluate_epochs:
            vals.append(evaluate(forward, params, data.x_val, data.y_val)[1])
            tests.append(evaluate(forward, params, data.x_test, data.y_test)[1])
        if epoch == snapshot_epoch:
            snapshot = _detached(params)
        if on_epoch is not None:
            on_epoch(len(order_seeds))
    empty = torch.zeros(len(order_seeds), 0)
    return Curves(
        torch.stack(losses, 1), torch.stack(vals, 1) if vals else empty, torch.stack(tests, 1) if tests else empty,
        time.perf_counter() - start,
        _detached(params), None if masking is None else masking.final(), snapshot,
    )


def _joined(parts: list[Curves]) -> Curves:
    """One population's curves from those of its consecutive chunks."""
    if len(parts) == 1:
        return parts[0]

    def layers(get):
        first = get(parts[0])
        if first is None:
            return None
        return [(torch.cat([get(p)[i][0] for p in parts]), torch.cat([get(p)[i][1] for p in parts]))
                for i in range(len(first))]

    masks = None if parts[0].masks is None else [torch.cat([p.masks[i] for p in parts]) for i in range(len(parts[0].masks))]
    return Curves(
        torch.cat([p.train_loss for p in parts]), torch.cat([p.val_acc for p in parts]),
        torch.cat([p.test_acc for p in parts]), sum(p.seconds for p in parts),
        layers(lambda p: p.final), masks, layers(lambda p: p.snapshot),
    )


def _detached(params: Layers) -> Layers:
    return [(w.detach().clone(), b.detach().clone()) for w, b in params]


@dataclass(frozen=True, eq=False)
class Trainer:
    """The engine bound once to a parent kind, the data, the training recipe and the limits
    (memory budget, population size): what arms and experiments train through."""

    parent: Parent
    data: Dataset
    recipe: TrainConfig
    max_memory: int = DEFAULT_MAX_MEMORY
    max_population: int = 256

    def train(
        self,
        layers: Layers,
        order_seeds: list[int],
        *,
        masks: list[Tensor] | None = None,
        hooks: list[StepHook | None] | None = None,
        snapshot_epoch: int | None = None,
        on_epoch: Callable[[int], None] | None = None,
        evaluate_epochs: bool = True,
    ) -> Curves:
        """Train the stacked networks `layers` with the recipe (see `train_population`)."""
        return train_population(
            self.parent.forward, layers, order_seeds, self.data, self.recipe, on_epoch, masks=masks, hooks=hooks,
            snapshot_epoch=snapshot_epoch, max_memory=self.max_memory, evaluate_epochs=evaluate_epochs,
        )

    def evaluate(self, layers: Layers, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        return evaluate(self.parent.forward, layers, x, y)

    def steps_per_epoch(self) -> int:
        return steps_per_epoch(self.data.x_train.shape[0], self.recipe.batch_size)
