"""Weight-space pruning: per-layer allocation of scores (saliency.py computes them), N:M and
block patterns, iterative SynFlow, schedules and random controls.

A weight mask is one bool tensor per layer, shaped like the weight (an MLP's [in, out], a
convolution's [out, in, *kernel]); True = kept.
"""

from .allocation import ALLOCATIONS, erk_densities, kept_per_layer, mask_from_scores
from .patterns import NM, Block, Pattern, parse_pattern
from .schedule import cubic_sparsity
from .shuffle import random_scores, shuffle_within_layers
from .synflow import synflow_mask

__all__ = [
    "ALLOCATIONS",
    "NM",
    "Block",
    "Pattern",
    "cubic_sparsity",
    "erk_densities",
    "kept_per_layer",
    "mask_from_scores",
    "parse_pattern",
    "random_scores",
    "shuffle_within_layers",
    "synflow_mask",
]
