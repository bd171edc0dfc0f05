"""`lottery_reinit`: the lottery ticket's mask with a fresh random initialisation, the control
of Frankle & Carbin 2019 showing that the ticket's initial weights matter."""

from __future__ import annotations

from ..nets.mlp import init_parent
from ..seeding import stable_seed
from .base import MaskRequest, SparseArm, TrialPlan
from .lottery import ticket


class LotteryReinit(SparseArm):
    name = "lottery_reinit"
    spaces = ("weight",)

    def plan(self, request: MaskRequest) -> TrialPlan:
        seed = stable_seed("reinit", request.seed)
        return TrialPlan(ticket(request), init_parent(request.widths, seed), {"init": seed})
