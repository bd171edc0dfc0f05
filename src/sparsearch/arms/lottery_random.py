"""`lottery_random`: a random mask with the lottery ticket's per-layer sparsity, trained from
the same initialisation: the random-pruning control of Frankle & Carbin 2019."""

from __future__ import annotations

from ..pruning import shuffle_within_layers
from ..spaces.weight import WeightMask
from .base import MaskRequest, SparseArm, TrialPlan, at_init
from .lottery import ticket


class LotteryRandom(SparseArm):
    name = "lottery_random"
    spaces = ("weight",)

    def plan(self, request: MaskRequest) -> TrialPlan:
        mask = shuffle_within_layers(list(ticket(request).layers), request.rng)
        return at_init(request, WeightMask(tuple(mask)))
