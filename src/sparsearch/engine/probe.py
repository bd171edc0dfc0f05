"""Score many candidate node masks with a probe (`sparsearch.probes`), a chunk of compacted
candidates at a time, so memory stays bounded for any number of candidates. Candidates are
compacted on the CPU and scored on the trainer's device; the scores come back on the CPU."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..nets.base import Params
from ..spaces.node import NodeMask
from .chunking import chunk_slices
from .device import moved
from .trainer import Trainer


def probe_scores(trainer: Trainer, parent: Params, masks: list[NodeMask], probe_idx: Tensor, probe: Callable,
                 *, order_seed: int, **settings) -> Tensor:
    """Score [K] (higher is better) of each mask's compacted network: `probe` applied to chunks
    of at most `trainer.max_population` candidates on the training examples `probe_idx`."""
    from ..probes import ProbeInput

    data, device = trainer.data, trainer.device
    x, y = data.x_train[probe_idx].to(device), data.y_train[probe_idx].to(device)
    footprint = trainer.parent.footprint(trainer.parent.compact(parent, masks[:1]), trainer.recipe.batch_size)
    scores = []
    for part in chunk_slices(len(masks), footprint, trainer.recipe.batch_size, trainer.max_memory,
                             trainer.max_population, trainer.device):
        layers = moved(trainer.parent.compact(parent, masks[part]), device)
        scores.append(probe(ProbeInput(trainer, layers, x, y, order_seed, **settings)).cpu())
    return torch.cat(scores)
