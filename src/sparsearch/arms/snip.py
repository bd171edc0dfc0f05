"""`snip`: prune at initialisation by connection sensitivity |w * dL/dw| on one batch of
training data (Lee et al. 2019, "SNIP: Single-shot Network Pruning based on Connection
Sensitivity"). Node space: a unit's score is the sum of its incoming weights' scores."""

from __future__ import annotations

from ..pruning import mask_from_scores, snip_scores
from ..spaces.node import mask_from_unit_scores, unit_scores
from ..spaces.weight import WeightMask
from .base import MaskRequest, SparseArm, TrialPlan, at_init


class Snip(SparseArm):
    name = "snip"
    spaces = ("node", "weight")

    def plan(self, request: MaskRequest) -> TrialPlan:
        scores = snip_scores(request.parent, *request.probe_batch())
        if request.space == "node":
            return at_init(request, mask_from_unit_scores(unit_scores(scores), request.sparsity))
        mask = mask_from_scores(scores, request.sparsity, request.config.search.allocation)
        return at_init(request, WeightMask(tuple(mask)))
