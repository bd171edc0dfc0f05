"""Weight-space pruning criteria: scores, per-layer allocation, schedules and random controls.

A weight mask is one bool tensor per layer, shaped like the weight [in, out]; True = kept.
"""

from .allocation import ALLOCATIONS, erk_densities, kept_per_layer, mask_from_scores
from .schedule import cubic_sparsity
from .scores import (
    grasp_scores,
    hessian_gradient_product,
    magnitude_scores,
    snip_scores,
    synflow_mask,
    synflow_scores,
)
from .shuffle import random_scores, shuffle_within_layers

__all__ = [
    "ALLOCATIONS",
    "cubic_sparsity",
    "erk_densities",
    "grasp_scores",
    "hessian_gradient_product",
    "kept_per_layer",
    "magnitude_scores",
    "mask_from_scores",
    "random_scores",
    "shuffle_within_layers",
    "snip_scores",
    "synflow_mask",
    "synflow_scores",
]
