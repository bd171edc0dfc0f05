"""`lottery_random`: a random mask with the lottery ticket's per-layer sparsity (`[arms.lottery]`
settings), trained from the ticket's own starting weights (the initialisation, or with
`rewind_epoch = k` the dense parent after k epochs) for the same epochs: the random-pruning
control of Frankle & Carbin 2019, rewound to iteration k as in Frankle et al. 2020 ("Linear
Mode Connectivity and the Lottery Ticket Hypothesis")."""

from __future__ import annotations

from ..pruning import shuffle_within_layers
from ..spaces.weight import WeightMask
from .base import Arm, ArmRequest, TrialPlan


class LotteryRandom(Arm):
    name = "lottery_random"
    spaces = ("weight",)

    def plan(self, request: ArmRequest) -> list[TrialPlan]:
        lottery = request.peer("lottery")
        tickets, starts, spent = lottery.tickets(request), lottery.rewind_points(request), lottery.spent(request)
        return [
            TrialPlan(WeightMask(tuple(shuffle_within_layers(list(tickets[seed].layers), request.rng(self.name, seed)))),
                      *starts[seed], search=spent[seed])
            for seed in request.seeds
        ]
