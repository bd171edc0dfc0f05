"""`lottery_reinit`: the lottery ticket's mask (`[arms.lottery]` settings) with a fresh random
initialisation, the control of Frankle & Carbin 2019 showing that the ticket's initial weights
matter. With `rewind_epoch = k` the fresh network first trains dense for k epochs, as the
ticket's parent did before its rewind point (Frankle et al. 2020, "Linear Mode Connectivity and
the Lottery Ticket Hypothesis"), so the control has the ticket's budget: k dense epochs, then
the recipe's epochs under the mask, in the seed's data order. Under the ticket's `pattern` the
control runs where the ticket does (1 - N/M for N:M)."""

from __future__ import annotations

from ..seeding import stable_seed
from .base import Arm, ArmRequest, TrialPlan
from .training import Training


class LotteryReinit(Arm):
    name = "lottery_reinit"
    spaces = ("weight",)

    def peers(self) -> tuple[str, ...]:
        return ("lottery",)

    def plan(self, request: ArmRequest) -> list[TrialPlan]:
        lottery = request.peer("lottery")
        tickets, k = lottery.tickets(request), lottery.params.rewind_epoch
        fresh = [stable_seed("reinit", seed) for seed in request.seeds]
        starts = [request.trainer.parent.init(f) for f in fresh]
        specs: list[dict] = [{"init": f} for f in fresh]
        if k:
            jobs = [Training(start, spec, seed) for start, spec, seed in zip(starts, specs, request.seeds)]
            starts = [snapshot for _, snapshot in request.cache.trained(jobs, "reinit parents", snapshot_epoch=k)]
            specs = [{**spec, "trained_epochs": k} for spec in specs]
        spent = lottery.spent(request)
        return [TrialPlan(tickets[seed], start, spec, search=spent[seed])
                for seed, start, spec in zip(request.seeds, starts, specs)]
