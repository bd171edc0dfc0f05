"""Score many candidate masks cheaply: the loss on a fixed probe batch, at initialisation or
after a few SGD steps, computed for chunks of up to `max_population` candidates at once."""

from __future__ import annotations

import torch
from torch import Tensor

from ..nets.mlp import Layers
from ..spaces.node import NodeMask
from .chunking import chunk_slices
from .trainer import Trainer, batch_orders, make_optimizer, sgd_steps, trainable


def probe_losses(trainer: Trainer, parent: Layers, masks: list[NodeMask], probe: Tensor, *, steps: int,
                 order_seed: int) -> Tensor:
    """Loss [K] of each mask's compacted network on the training examples `probe` (indices),
    after `steps` optimizer steps of the recipe in the data order of `order_seed` (0 = at init).
    Candidates are compacted and scored a chunk at a time, so memory stays bounded for any K."""
    data, recipe, net = trainer.data, trainer.recipe, trainer.parent
    x, y = data.x_train[probe], data.y_train[probe]
    widths = (parent[0][0].shape[0], *(len(layer) for layer in masks[0].keep), parent[-1][0].shape[1])
    scores = []
    for part in chunk_slices(len(masks), widths, recipe.batch_size, trainer.max_memory, trainer.max_population):
        chunk = masks[part]
        layers = net.compact(parent, chunk)
        if steps:
            layers = trainable(layers)
            optimizer = make_optimizer([t for pair in layers for t in pair], recipe)
            batches = batch_orders([order_seed] * len(chunk), data.x_train.shape[0], recipe.batch_size)
            sgd_steps(net.forward, layers, optimizer, data, batches, steps)
        scores.append(trainer.evaluate(layers, x, y)[0])
    return torch.cat(scores)
