"""`shuffle`: the mask of a pruning-at-init arm (`search.shuffle_of`), permuted at random within
each layer: same per-layer sparsity, no other information (Frankle et al. 2021, "Pruning Neural
Networks at Initialization: Why Are We Missing the Mark?")."""

from __future__ import annotations

from dataclasses import replace

from ..pruning import shuffle_within_layers
from ..spaces.weight import WeightMask
from .base import MaskRequest, SparseArm, TrialPlan, arm_stream, at_init

PRUNING_AT_INIT = ("random", "snip", "grasp", "synflow")


class Shuffle(SparseArm):
    name = "shuffle"
    spaces = ("weight",)

    def plan(self, request: MaskRequest) -> TrialPlan:
        from . import ARMS

        source = request.config.search.shuffle_of
        original = ARMS[source].plan(replace(request, rng=arm_stream(source, request.seed, request.sparsity)))
        return at_init(request, WeightMask(tuple(shuffle_within_layers(list(original.mask.layers), request.rng))))
