"""`lottery_reinit`: the lottery ticket's mask (`[arms.lottery]` settings) with a fresh random
initialisation, the control of Frankle & Carbin 2019 showing that the ticket's initial weights
matter."""

from __future__ import annotations

from ..seeding import stable_seed
from .base import Arm, ArmRequest, TrialPlan


class LotteryReinit(Arm):
    name = "lottery_reinit"
    spaces = ("weight",)

    def plan(self, request: ArmRequest) -> list[TrialPlan]:
        tickets = request.peer("lottery").tickets(request)
        plans = []
        for seed in request.seeds:
            fresh = stable_seed("reinit", seed)
            plans.append(TrialPlan(tickets[seed], request.trainer.parent.init(fresh), {"init": fresh}))
        return plans
