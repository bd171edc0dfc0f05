"""`random`: the control. Node space: one uniformly random node mask (arXiv 2403.08265).
Weight space: random pruning with `uniform`, `erk` or `global` allocation (Liu et al. 2022,
"The Unreasonable Effectiveness of Random Pruning"; ERK as in RigL, Evci et al. 2020)."""

from __future__ import annotations

from ..pruning import mask_from_scores, random_scores
from ..spaces.node import sample_mask
from ..spaces.weight import WeightMask
from .base import MaskRequest, SparseArm, TrialPlan, at_init


class Random(SparseArm):
    name = "random"
    spaces = ("node", "weight")


    def plan(self, request: MaskRequest) -> TrialPlan:
        if request.space == "node":
            return at_init(request, sample_mask(request.hidden, request.sparsity, request.rng))
        shapes = [tuple(w.shape) for w, _ in request.parent]
        scores = random_scores(shapes, request.rng)
        mask = mask_from_scores(scores, request.sparsity, request.config.search.allocation)
        return at_init(request, WeightMask(tuple(mask)))
