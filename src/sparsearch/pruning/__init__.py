"""Weight-space pruning: per-layer allocation of scores (saliency.py computes them), iterative
SynFlow, schedules and random controls.

A weight mask is one bool tensor per layer, shaped like the weight [in, out]; True = kept.
"""

from .allocation import ALLOCATIONS, erk_densities, kept_per_layer, mask_from_scores
from .schedule import cubic_sparsity
from .shuffle import random_scores, shuffle_within_layers
from .synflow import synflow_mask

__all__ = [
    "ALLOCATIONS",
    "cubic_sparsity",
    "erk_densities",
    "kept_per_layer",
    "mask_from_scores",
    "random_scores",
    "shuffle_within_layers",
    "synflow_mask",
]
