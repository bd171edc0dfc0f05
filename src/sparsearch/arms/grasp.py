"""`grasp`: prune at initialisation to preserve gradient flow, removing the weights with the
largest -w * Hg on one batch of training data (Wang et al. 2020, "Picking Winning Tickets Before
Training by Preserving Gradient Flow"; logits divided by 200 as in the authors' code), in the
arm's `pattern` (N:M or blocks, arms/patterned.py)."""

from __future__ import annotations

from ..saliency import first, grasp, one
from ..probes import HESSIAN_GRADIENT
from .base import ArmRequest, PerSeedArm, TrialPlan, at_init
from .patterned import PatternParams, Patterned


TEMPERATURE = 200.0
"""Logits are divided by this before the loss, as in the authors' code."""


class Grasp(Patterned, PerSeedArm):
    name = "grasp"
    spaces = ("weight",)
    Params = PatternParams

    def choose(self, request: ArmRequest, seed: int) -> TrialPlan:
        scores = first(grasp(request.trainer.parent, one(request.parent(seed)), *request.probe_data(seed),
                             TEMPERATURE))
        return at_init(request, seed, self.weight_mask(request, scores), request.probe_spend(HESSIAN_GRADIENT))
