"""`lottery_random`: a random mask with the lottery ticket's per-layer sparsity (`[arms.lottery]`
settings), trained from the same initialisation: the random-pruning control of Frankle &
Carbin 2019."""

from __future__ import annotations

from ..pruning import shuffle_within_layers
from ..spaces.weight import WeightMask
from .base import Arm, ArmRequest, TrialPlan, at_init


class LotteryRandom(Arm):
    name = "lottery_random"
    spaces = ("weight",)

    def plan(self, request: ArmRequest) -> list[TrialPlan]:
        tickets = request.peer("lottery").tickets(request)
        return [
            at_init(request, seed, WeightMask(tuple(shuffle_within_layers(list(tickets[seed].layers),
                                                                          request.rng(self.name, seed)))))
            for seed in request.seeds
        ]
