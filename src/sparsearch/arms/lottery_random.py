"""`lottery_random`: a random mask with the lottery ticket's per-layer sparsity (`[arms.lottery]`
settings), trained from the ticket's own starting weights (the initialisation, or with
`rewind_epoch = k` the dense parent after k epochs) for the same epochs: the random-pruning
control of Frankle & Carbin 2019, rewound to iteration k as in Frankle et al. 2020 ("Linear
Mode Connectivity and the Lottery Ticket Hypothesis"). Under the ticket's `pattern` the mask is
shuffled within each N:M group (or whole blocks among blocks of one shape), so the control
keeps the pattern and runs where the ticket does."""

from __future__ import annotations

from ..pruning import shuffle_within_layers
from ..spaces.weight import WeightMask
from .base import Arm, ArmRequest, TrialPlan


class LotteryRandom(Arm):
    name = "lottery_random"
    spaces = ("weight",)

    def peers(self) -> tuple[str, ...]:
        return ("lottery",)

    def plan(self, request: ArmRequest) -> list[TrialPlan]:
        lottery = request.peer("lottery")
        tickets, starts, spent = lottery.tickets(request), lottery.rewind_points(request), lottery.spent(request)
        return [
            TrialPlan(WeightMask(tuple(shuffle_within_layers(list(tickets[seed].layers), request.rng(self.name, seed),
                                                             lottery.params.pattern, request.weight_layout))),
                      *starts[seed], search=spent[seed])
            for seed in request.seeds
        ]
