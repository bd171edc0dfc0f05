"""`synflow`: data-free pruning at initialisation by iterative synaptic flow, |dR/dw * w| on an
all-ones input through |W|, rescored `iterations` times on an exponential schedule (Tanaka et
al. 2020, "Pruning neural networks without any data by iteratively conserving synaptic flow")."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..pruning import synflow_mask
from ..spaces.weight import WeightMask
from ..probes import FORWARD_BACKWARD
from .base import ArmRequest, PerSeedArm, TrialPlan, at_init
from .training import Spend


class Synflow(PerSeedArm):
    name = "synflow"
    spaces = ("weight",)

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        iterations: int = Field(100, ge=1, description="rescoring rounds of the exponential schedule")

    def choose(self, request: ArmRequest, seed: int) -> TrialPlan:
        mask = synflow_mask(request.trainer.parent, request.parent(seed), request.sparsity, request.allocation,
                            self.params.iterations)
        spent = Spend(request.cache.pass_epochs(self.params.iterations * FORWARD_BACKWARD))  # one input per round
        return at_init(request, seed, WeightMask(tuple(mask)), spent)
