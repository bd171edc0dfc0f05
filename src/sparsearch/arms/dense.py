"""`dense`: the parent itself, the upper reference of arXiv 2403.08265."""

from __future__ import annotations

from ..spaces.node import full_mask
from ..spaces.weight import full_weight_mask
from .base import ArmRequest, PerSeedArm, TrialPlan, at_init


class Dense(PerSeedArm):
    name = "dense"
    spaces = ("node", "weight")

    def sparsities(self, requested: list[float]) -> list[float]:
        return [0.0]

    def choose(self, request: ArmRequest, seed: int) -> TrialPlan:
        mask = full_mask(request.hidden) if request.space == "node" else full_weight_mask(request.weight_shapes)
        return at_init(request, seed, mask)
