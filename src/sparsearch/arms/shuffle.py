"""`shuffle`: the mask of a pruning-at-init arm (`of`, configured as that arm is in this
experiment), permuted at random within each layer: same per-layer sparsity, no other
information (Frankle et al. 2021, "Pruning Neural Networks at Initialization: Why Are We
Missing the Mark?"). Under the source arm's `pattern` the permutation stays within each N:M
group (or moves whole blocks among blocks of one shape), so the control keeps the pattern and
runs where the source arm does."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from ..pruning import shuffle_within_layers
from ..spaces.weight import WeightMask
from .base import Arm, ArmRequest, TrialPlan, at_init


class Shuffle(Arm):
    name = "shuffle"
    spaces = ("weight",)

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        of: Literal["random", "snip", "grasp", "synflow"] = "snip"

    def peers(self) -> tuple[str, ...]:
        return (self.params.of,)

    def plan(self, request: ArmRequest) -> list[TrialPlan]:
        source = request.peer(self.params.of)
        pattern = getattr(source.params, "pattern", None)
        plans = []
        for seed, original in zip(request.seeds, source.plan(request)):
            shuffled = shuffle_within_layers(list(original.mask.layers), request.rng(self.name, seed), pattern,
                                             request.weight_layout)
            plans.append(at_init(request, seed, WeightMask(tuple(shuffled)), original.search))
        return plans
