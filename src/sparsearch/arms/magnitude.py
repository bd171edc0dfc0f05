"""`magnitude`: train the parent, prune the smallest |w|, retrain (Han et al. 2015, "Learning
both Weights and Connections for Efficient Neural Networks").

Weight space: global or per-layer (`search.allocation`) magnitude of the trained weights.
Node space: a unit's score is the sum of its incoming weights' |w|. Retraining starts from the
trained weights (`search.rewind = "finetune"`) or from the initialisation (`"init"`).
"""

from __future__ import annotations

from ..pruning import magnitude_scores, mask_from_scores
from ..spaces.node import mask_from_unit_scores, unit_scores
from ..spaces.weight import WeightMask
from .base import MaskRequest, SparseArm, TrialPlan, at_init
from .training import trained_parent, trained_spec


class Magnitude(SparseArm):
    name = "magnitude"
    spaces = ("node", "weight")

    def plan(self, request: MaskRequest) -> TrialPlan:
        trained, _ = trained_parent(request)
        scores = magnitude_scores(trained)
        if request.space == "node":
            mask = mask_from_unit_scores(unit_scores(scores), request.sparsity)
        else:
            mask = WeightMask(tuple(mask_from_scores(scores, request.sparsity, request.config.search.allocation)))
        if request.config.search.rewind == "init":
            return at_init(request, mask)
        return TrialPlan(mask, trained, trained_spec(request, request.config.train.epochs))
