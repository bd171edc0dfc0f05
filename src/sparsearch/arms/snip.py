"""`snip`: prune at initialisation by connection sensitivity |w * dL/dw| on one batch of
training data (Lee et al. 2019, "SNIP: Single-shot Network Pruning based on Connection
Sensitivity"). Node space: a unit's score is the sum of its incoming weights' scores. Weight
space: in the arm's `pattern` (N:M or blocks, arms/patterned.py)."""

from __future__ import annotations

from ..saliency import first, one, snip
from ..spaces.node import mask_from_unit_scores
from ..probes import FORWARD_BACKWARD
from .base import ArmRequest, PerSeedArm, TrialPlan, at_init
from .patterned import PatternParams, Patterned


class Snip(Patterned, PerSeedArm):
    name = "snip"
    spaces = ("node", "weight")
    Params = PatternParams

    def choose(self, request: ArmRequest, seed: int) -> TrialPlan:
        scores = first(snip(request.trainer.parent, one(request.parent(seed)), *request.probe_data(seed)))
        spent = request.probe_spend(FORWARD_BACKWARD)
        if request.space == "node":
            mask = mask_from_unit_scores(request.trainer.parent.unit_scores(scores), request.sparsity)
            return at_init(request, seed, mask, spent)
        return at_init(request, seed, self.weight_mask(request, scores), spent)
