"""Evaluation without retraining: a sub-network inherits the super-network's weights; thousands
are scored in batches (masked layout, chunks bounded like the engine's), on the device of the
super-network's tensors. A parent with BatchNorm first recalibrates each sub-network's
statistics on the training data (`calibrate`; Once-for-All, Cai et al. 2020, section 3.2)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..data import Dataset
from ..engine.chunking import chunk_slices
from ..engine.trainer import calibrate, evaluate
from ..nets.base import Params
from .masking import Multipliers, masked


@torch.no_grad()
def inherited_scores(parent, supernet: Params, multipliers: Multipliers, configs: np.ndarray, data: Dataset,
                     x: Tensor, y: Tensor, max_memory: int,
                     dtype: torch.dtype = torch.float32) -> tuple[np.ndarray, np.ndarray]:
    """(accuracy, mean loss) of each configuration's sub-network on (x, y), its BatchNorm (if
    any) calibrated on `data`'s training split."""
    one = [tuple(t.detach().unsqueeze(0) for t in layer) for layer in supernet]
    accs, losses = [], []
    for part in chunk_slices(len(configs), parent.footprint(one, x.shape[0]), x.shape[0], max_memory):
        networks = masked([tuple(t.detach() for t in layer) for layer in supernet], multipliers.of(configs[part]))
        calibrate(parent, networks, data)
        loss, acc = evaluate(parent, networks, x, y, dtype)
        accs.append(acc.cpu().numpy())
        losses.append(loss.cpu().numpy())
    return np.concatenate(accs), np.concatenate(losses)
