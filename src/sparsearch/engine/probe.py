"""Score many candidate masks cheaply: the loss on a fixed probe batch, at initialisation or
after a few SGD steps, computed for chunks of up to `max_population` candidates at once."""

from __future__ import annotations

import torch
from torch import Tensor

from ..config import TrainConfig
from ..data import Dataset
from ..nets.mlp import Layers
from ..spaces.node import NodeMask, compact
from .trainer import batch_orders, evaluate, make_optimizer, sgd_steps, trainable


def probe_losses(
    parent: Layers,
    masks: list[NodeMask],
    data: Dataset,
    probe: Tensor,
    *,
    steps: int,
    recipe: TrainConfig,
    order_seed: int,
    max_population: int,
) -> Tensor:
    """Loss [K] of each mask's compacted network on the training examples `probe` (indices),
    after `steps` optimizer steps of the recipe in the data order of `order_seed` (0 = at init)."""
    x, y = data.x_train[probe], data.y_train[probe]
    scores = []
    for start in range(0, len(masks), max_population):
        chunk = masks[start : start + max_population]
        layers = compact(parent, chunk)
        if steps:
            layers = trainable(layers)
            optimizer = make_optimizer([t for pair in layers for t in pair], recipe)
            batches = batch_orders([order_seed] * len(chunk), data.x_train.shape[0], recipe.batch_size)
            sgd_steps(layers, optimizer, data, batches, steps)
        scores.append(evaluate(layers, x, y)[0])
    return torch.cat(scores)
