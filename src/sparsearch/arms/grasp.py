"""`grasp`: prune at initialisation to preserve gradient flow, removing the weights with the
largest -w * Hg on one batch of training data (Wang et al. 2020, "Picking Winning Tickets Before
Training by Preserving Gradient Flow"; logits divided by 200 as in the authors' code)."""

from __future__ import annotations

from ..pruning import mask_from_scores
from ..saliency import first, grasp, one
from ..spaces.weight import WeightMask
from ..probes import HESSIAN_GRADIENT
from .base import ArmRequest, PerSeedArm, TrialPlan, at_init


TEMPERATURE = 200.0
"""Logits are divided by this before the loss, as in the authors' code."""


class Grasp(PerSeedArm):
    name = "grasp"
    spaces = ("weight",)

    def choose(self, request: ArmRequest, seed: int) -> TrialPlan:
        scores = first(grasp(request.trainer.parent, one(request.parent(seed)), *request.probe_data(seed),
                             TEMPERATURE))
        mask = mask_from_scores(scores, request.sparsity, request.allocation)
        return at_init(request, seed, WeightMask(tuple(mask)), request.probe_spend(HESSIAN_GRADIENT))
