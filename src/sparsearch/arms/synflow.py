"""`synflow`: data-free pruning at initialisation by iterative synaptic flow, |dR/dw * w| on an
all-ones input through |W|, rescored `search.synflow_iterations` times on an exponential
schedule (Tanaka et al. 2020, "Pruning neural networks without any data by iteratively
conserving synaptic flow")."""

from __future__ import annotations

from ..pruning import synflow_mask
from ..spaces.weight import WeightMask
from .base import MaskRequest, SparseArm, TrialPlan, at_init


class Synflow(SparseArm):
    name = "synflow"
    spaces = ("weight",)

    def plan(self, request: MaskRequest) -> TrialPlan:
        search = request.config.search
        mask = synflow_mask(request.parent, request.sparsity, search.allocation, search.synflow_iterations)
        return at_init(request, WeightMask(tuple(mask)))
