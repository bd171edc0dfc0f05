"""`synflow`: data-free pruning at initialisation by iterative synaptic flow, |dR/dw * w| on an
all-ones input through |W|, rescored `iterations` times on an exponential schedule (Tanaka et
al. 2020, "Pruning neural networks without any data by iteratively conserving synaptic flow").

With `pattern = "N:M"` (arms/patterned.py) the last iteration keeps exactly N of every M and
the earlier ones follow the schedule and `search.allocation` without removing a weight among
its group's N best; with a block pattern every iteration keeps whole blocks."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..pruning import synflow_mask
from ..spaces.weight import WeightMask
from ..probes import FORWARD_BACKWARD
from .base import ArmRequest, PerSeedArm, TrialPlan, at_init
from .patterned import Patterned, PatternSetting
from .training import Spend


class Synflow(Patterned, PerSeedArm):
    name = "synflow"
    spaces = ("weight",)

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        iterations: int = Field(100, ge=1, description="rescoring rounds of the exponential schedule")
        pattern: PatternSetting = None

    def choose(self, request: ArmRequest, seed: int) -> TrialPlan:
        mask = synflow_mask(request.trainer.parent, request.parent(seed), request.sparsity, request.allocation,
                            self.params.iterations, self.params.pattern)
        spent = Spend(request.cache.pass_epochs(self.params.iterations * FORWARD_BACKWARD))  # one input per round
        return at_init(request, seed, WeightMask(tuple(mask)), spent)
