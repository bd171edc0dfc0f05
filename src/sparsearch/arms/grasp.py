"""`grasp`: prune at initialisation to preserve gradient flow, removing the weights with the
largest -w * Hg on one batch of training data (Wang et al. 2020, "Picking Winning Tickets Before
Training by Preserving Gradient Flow"; logits divided by 200 as in the authors' code)."""

from __future__ import annotations

from ..pruning import grasp_scores, mask_from_scores
from ..spaces.weight import WeightMask
from .base import MaskRequest, SparseArm, TrialPlan, at_init


class Grasp(SparseArm):
    name = "grasp"
    spaces = ("weight",)

    def plan(self, request: MaskRequest) -> TrialPlan:
        scores = grasp_scores(request.parent, *request.probe_batch())
        mask = mask_from_scores(scores, request.sparsity, request.config.search.allocation)
        return at_init(request, WeightMask(tuple(mask)))
