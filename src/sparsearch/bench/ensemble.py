"""(b) `torch.func` model ensembling, as in PyTorch's tutorial: `stack_module_state` stacks the
networks' parameters, `vmap` over `functional_call` runs them as one batched program, one
optimizer steps the stacked parameters. Any module works; for convolutions vmap's batching
rule is one grouped convolution (`groups` = P) per layer."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from ..config import TrainConfig
from ..data import Dataset
from ..engine.optim import make_optimizer
from ..engine.trainer import batch_orders, steps_per_epoch


def ensemble_train(models: Sequence[nn.Module], seeds: list[int], data: Dataset, recipe: TrainConfig) -> Tensor:
    """Train `models` (one per seed, equal shapes, reading flat features [B, F]; on the data's
    device) with torch.func; return per-epoch mean train loss [P, epochs] on the CPU."""
    params, buffers = stack_module_state(list(models))
    base = copy.deepcopy(models[0]).to("meta")

    def logits(p, b, x):
        return functional_call(base, (p, b), (x,))

    def loss(p, b, x, y):
        return F.cross_entropy(logits(p, b, x), y)

    batched_loss = vmap(loss)
    batched_eval = vmap(logits, in_dims=(0, 0, None))
    optimizer = make_optimizer(list(params.values()), recipe)
    n = data.x_train.shape[0]
    batches = batch_orders(seeds, n, recipe.batch_size, data.x_train.device)
    epochs = []
    for _ in range(recipe.epochs):
        total = torch.zeros(len(seeds), dtype=torch.float64, device=data.x_train.device)
        for _ in range(steps_per_epoch(n, recipe.batch_size)):
            idx = next(batches)
            losses = batched_loss(params, buffers, data.x_train[idx], data.y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()
            optimizer.step()
            total += losses.detach().double() * idx.shape[1]
        epochs.append(total / n)
        with torch.no_grad():
            for x, y in ((data.x_val, data.y_val), (data.x_test, data.y_test)):
                (batched_eval(params, buffers, x).argmax(-1) == y).float().mean(1)
    return torch.stack(epochs, 1).float().cpu()
