"""(a) What a user writes today: one `nn.Module` per network (the parent kind's own `module()`:
`nn.Linear` + ReLU for an MLP, `nn.Conv*d` + ReLU + pooling + `nn.Linear` for a conv parent),
its own optimizer, trained one network after another, with per-epoch evaluation of validation
and test accuracy."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import TrainConfig
from ..data import Dataset
from ..engine.optim import make_optimizer
from ..engine.trainer import batch_orders, steps_per_epoch


@torch.no_grad()
def plain_accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    return (model(x).argmax(1) == y).float().mean().item()


def plain_train(model: nn.Module, seed: int, data: Dataset, recipe: TrainConfig) -> list[float]:
    """Train one network `model` (reading flat features [B, F]; on the data's device) the plain
    way, reading `batch_orders([seed])`; return its per-epoch mean training loss."""
    optimizer = make_optimizer(list(model.parameters()), recipe)
    n = data.x_train.shape[0]
    batches = batch_orders([seed], n, recipe.batch_size, data.x_train.device)
    losses = []
    for _ in range(recipe.epochs):
        total = 0.0
        for _ in range(steps_per_epoch(n, recipe.batch_size)):
            idx = next(batches)[0]
            loss = F.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * idx.shape[0]
        losses.append(total / n)
        plain_accuracy(model, data.x_val, data.y_val)
        plain_accuracy(model, data.x_test, data.y_test)
    return losses
