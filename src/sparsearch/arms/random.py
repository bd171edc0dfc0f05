"""`random`: the control. Node space: one uniformly random node mask (arXiv 2403.08265).
Weight space: random pruning with `uniform`, `erk` or `global` allocation (Liu et al. 2022,
"The Unreasonable Effectiveness of Random Pruning"; ERK as in RigL, Evci et al. 2020); with
`pattern = "2:4"` (or a block pattern) a random mask of that pattern (arms/patterned.py)."""

from __future__ import annotations

from ..pruning import random_scores
from ..spaces.node import sample_mask
from .base import ArmRequest, PerSeedArm, TrialPlan, at_init
from .patterned import PatternParams, Patterned


class Random(Patterned, PerSeedArm):
    name = "random"
    spaces = ("node", "weight")
    Params = PatternParams

    def choose(self, request: ArmRequest, seed: int) -> TrialPlan:
        rng = request.rng(self.name, seed)
        if request.space == "node":
            return at_init(request, seed, sample_mask(request.hidden, request.sparsity, rng))
        return at_init(request, seed, self.weight_mask(request, random_scores(request.weight_shapes, rng)))
