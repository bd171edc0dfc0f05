"""Iterative SynFlow (Tanaka et al. 2020, "Pruning neural networks without any data by
iteratively conserving synaptic flow") for one network, on `saliency.synflow`'s scores."""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import SparsearchError
from ..nets.base import Params, Parent, weight_layout
from ..saliency import first, one, synflow
from .allocation import check_sparsity, mask_from_scores


def synflow_mask(parent: Parent, network: Params, sparsity: float, allocation: str = "global",
                 iterations: int = 100, pattern: str | None = None) -> list[Tensor]:
    """The weight mask of one unstacked `network` of `parent`: at iteration k = 1..n keep a
    fraction (1 - s)^(k / n), rescoring with the current mask; pruned weights score -inf so they
    stay pruned. The last iteration uses `sparsity` itself, so the target count is exact. Under
    an N:M `pattern` the last iteration is exactly N:M and earlier ones remove no weight among
    its group's N best; under a block pattern every iteration keeps whole blocks."""
    sparsity = check_sparsity(sparsity)
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise SparsearchError(f"SynFlow iterations must be an integer >= 1, got {iterations!r}")
    population = one(network)
    masks = [torch.ones_like(layer[0], dtype=torch.bool) for layer in network]
    for k in range(1, iterations + 1):
        step = sparsity if k == iterations else 1.0 - (1.0 - sparsity) ** (k / iterations)
        scores = first(synflow(parent, population, [m.unsqueeze(0) for m in masks]))
        masks = mask_from_scores([s.masked_fill(~m, float("-inf")) for s, m in zip(scores, masks)], step, allocation,
                                 pattern, weight_layout(parent))
    return masks
