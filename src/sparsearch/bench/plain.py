"""(a) What a user writes today: one `nn.Sequential` of `nn.Linear` + ReLU per network, its own
optimizer, trained one network after another, with per-epoch evaluation of validation and
test accuracy."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import TrainConfig
from ..data import Dataset
from ..engine.optim import make_optimizer
from ..engine.trainer import batch_orders, steps_per_epoch
from ..nets.mlp import Layers


def plain_model(layers: Layers) -> nn.Sequential:
    """`nn.Sequential(Linear, ReLU, ..., Linear)` holding copies of one unstacked network's weights."""
    modules: list[nn.Module] = []
    for i, (weight, bias) in enumerate(layers):
        linear = nn.Linear(weight.shape[0], weight.shape[1])
        with torch.no_grad():
            linear.weight.copy_(weight.t())
            linear.bias.copy_(bias)
        modules.append(linear)
        if i < len(layers) - 1:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


@torch.no_grad()
def plain_accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    return (model(x).argmax(1) == y).float().mean().item()


def plain_train(layers: Layers, seed: int, data: Dataset, recipe: TrainConfig) -> list[float]:
    """Train one unstacked network the plain way, reading `batch_orders([seed])`; return its
    per-epoch mean training loss."""
    model = plain_model(layers)
    optimizer = make_optimizer(list(model.parameters()), recipe)
    n = data.x_train.shape[0]
    batches = batch_orders([seed], n, recipe.batch_size)
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
