"""`random`: the control. Node space: one uniformly random node mask (arXiv 2403.08265).
Weight space: random pruning with `uniform`, `erk` or `global` allocation (Liu et al. 2022,
"The Unreasonable Effectiveness of Random Pruning"; ERK as in RigL, Evci et al. 2020)."""

from __future__ import annotations

from ..pruning import mask_from_scores, random_scores
from ..spaces.node import sample_mask
from ..spaces.weight import WeightMask
from .base import ArmRequest, PerSeedArm, TrialPlan, at_init


class Random(PerSeedArm):
    name = "random"
    spaces = ("node", "weight")

    def choose(self, request: ArmRequest, seed: int) -> TrialPlan:
        rng = request.rng(self.name, seed)
        if request.space == "node":
            return at_init(request, seed, sample_mask(request.hidden, request.sparsity, rng))
        mask = mask_from_scores(random_scores(request.weight_shapes, rng), request.sparsity, request.allocation)
        return at_init(request, seed, WeightMask(tuple(mask)))
