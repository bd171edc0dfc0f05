"""Evaluation without retraining: a sub-network inherits the super-network's weights; thousands
are scored in batches (masked layout, chunks bounded like the engine's), on the device of the
super-network's tensors."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..engine.chunking import chunk_slices, mlp_footprint
from ..engine.trainer import evaluate
from ..nets.mlp import MLP, Layers
from ..spaces.elastic import ElasticSpace
from .train import sub_networks


@torch.no_grad()
def inherited_scores(supernet: Layers, space: ElasticSpace, configs: np.ndarray, x: Tensor, y: Tensor,
                     max_memory: int, dtype: torch.dtype = torch.float32) -> tuple[np.ndarray, np.ndarray]:
    """(accuracy, mean loss) of each configuration's sub-network on (x, y)."""
    widths = (supernet[0][0].shape[0], *space.hidden, supernet[-1][0].shape[1])
    accs, losses = [], []
    for part in chunk_slices(len(configs), mlp_footprint(widths, x.shape[0]), x.shape[0], max_memory):
        networks = sub_networks(supernet, space, configs[part])
        loss, acc = evaluate(MLP.of(networks), networks, x, y, dtype)
        accs.append(acc.cpu().numpy())
        losses.append(loss.cpu().numpy())
    return np.concatenate(accs), np.concatenate(losses)
