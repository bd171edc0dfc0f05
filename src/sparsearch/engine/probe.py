"""Score many candidate masks cheaply: the loss on a fixed probe batch, at initialisation or
after a few SGD steps, computed for chunks of up to `max_population` candidates at once."""

from __future__ import annotations

import torch
from torch import Tensor

from ..config import TrainConfig
from ..data import Dataset
from ..nets.mlp import Layers
from ..spaces.node import NodeMask, compact
from .chunking import DEFAULT_MAX_MEMORY, chunk_slices
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
    max_memory: int = DEFAULT_MAX_MEMORY,
) -> Tensor:
    """Loss [K] of each mask's compacted network on the training examples `probe` (indices),
    after `steps` optimizer steps of the recipe in the data order of `order_seed` (0 = at init).
    Candidates are compacted and scored a chunk at a time, so memory stays bounded for any K."""
    x, y = data.x_train[probe], data.y_train[probe]
    widths = (parent[0][0].shape[0], *(len(layer) for layer in masks[0].keep), parent[-1][0].shape[1])
    scores = []
    for part in chunk_slices(len(masks), widths, recipe.batch_size, max_memory, max_population):
        chunk = masks[part]
        layers = compact(parent, chunk)
        if steps:
            layers = trainable(layers)
            optimizer = make_optimizer([t for pair in layers for t in pair], recipe)
            batches = batch_orders([order_seed] * len(chunk), data.x_train.shape[0], recipe.batch_size)
            sgd_steps(layers, optimizer, data, batches, steps)
        scores.append(evaluate(layers, x, y)[0])
    return torch.cat(scores)
