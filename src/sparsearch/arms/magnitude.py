"""`magnitude`: train the parent, prune the smallest |w|, retrain (Han et al. 2015, "Learning
both Weights and Connections for Efficient Neural Networks").

Weight space: global or per-layer (`search.allocation`) magnitude of the trained weights, in
the arm's `pattern` (N:M or blocks, arms/patterned.py).
Node space: a unit's score is the sum of its incoming weights' |w|. Retraining starts from the
trained weights (`rewind = "finetune"`) or from the initialisation (`"init"`). The parents of
all seeds are trained as one population.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from ..saliency import first, magnitude, one
from ..spaces.node import mask_from_unit_scores
from .base import Arm, ArmRequest, TrialPlan, at_init
from .patterned import Patterned, PatternSetting
from .training import trained_spec


class Magnitude(Patterned, Arm):
    name = "magnitude"
    spaces = ("node", "weight")

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        rewind: Literal["finetune", "init"] = "finetune"
        pattern: PatternSetting = None

    def plan(self, request: ArmRequest) -> list[TrialPlan]:
        parents = request.cache.trained_parents(request.seeds)
        spent = request.cache.parent_spend(request.seeds)
        plans = []
        for seed in request.seeds:
            trained, _ = parents[seed]
            scores = first(magnitude(one(trained)))
            if request.space == "node":
                mask = mask_from_unit_scores(request.trainer.parent.unit_scores(scores), request.sparsity)
            else:
                mask = self.weight_mask(request, scores)
            if self.params.rewind == "init":
                plans.append(at_init(request, seed, mask, spent[seed]))
            else:
                plans.append(TrialPlan(mask, trained, trained_spec(seed, request.trainer.recipe.epochs),
                                       search=spent[seed]))
        return plans
