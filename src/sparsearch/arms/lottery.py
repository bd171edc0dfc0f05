"""`lottery`: iterative magnitude pruning with rewinding (Frankle & Carbin 2019, "The Lottery
Ticket Hypothesis"; rewinding to epoch k: Frankle et al. 2020, "Linear Mode Connectivity and
the Lottery Ticket Hypothesis").

Per seed, one pruning trajectory serves every target sparsity: train, remove `prune_rate` of
the remaining weights by magnitude (`search.allocation`), rewind the survivors to the rewind
point (init, or the dense parent after `rewind_epoch` epochs), retrain, and so on; when the
next round would pass a target, the last trained weights are pruned to exactly that target.
The winning ticket (mask at the target, weights at the rewind point) is the trial. Unlike the
paper, the output layer is pruned like the others. Every seed advances in lockstep, so round r
of all seeds is one population; each finished round is kept in the store.

With `pattern = "N:M"` (arms/patterned.py) the ticket's target is 1 - N/M, the only sparsity
the arm runs at, and its mask keeps exactly N of every M weights of a row; earlier rounds
remove `prune_rate` of the survivors as usual (`search.allocation`) but never a weight among
its group's N best survivors, so the last pruning reaches N:M from the survivors alone. With a
block pattern every round removes whole blocks.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..config import QUICK_EPOCHS
from ..errors import SparsearchError
from ..nets.base import Params
from ..pruning import mask_from_scores
from ..saliency import first, magnitude, one
from ..spaces.weight import WeightMask, full_weight_mask
from .base import Arm, ArmRequest, TrialPlan
from .patterned import Patterned, PatternSetting
from .training import Spend, Training, trained_spec


class LotteryParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    prune_rate: float = Field(0.2, gt=0, lt=1, description="fraction of the remaining weights removed per round")
    rewind_epoch: int = Field(0, ge=0, description="rewind to the parent after this many epochs (0 = init)")
    pattern: PatternSetting = None


class Lottery(Patterned, Arm):
    name = "lottery"
    spaces = ("weight",)
    Params = LotteryParams

    def check(self, epochs: int) -> None:
        if self.params.rewind_epoch >= epochs:
            raise SparsearchError(
                f"arms.lottery.rewind_epoch: {self.params.rewind_epoch} must be below train.epochs ({epochs})"
            )

    @classmethod
    def quick(cls, table: dict) -> dict:
        """A smoke run trains QUICK_EPOCHS epochs: rewind no later than the epoch before."""
        rewind = table.get("rewind_epoch", 0)
        return {**table, "rewind_epoch": min(rewind, QUICK_EPOCHS - 1)} if isinstance(rewind, int) else table

    def plan(self, request: ArmRequest) -> list[TrialPlan]:
        starts = self.rewind_points(request)
        tickets, spent = self.tickets(request), self.spent(request)
        return [TrialPlan(tickets[seed], *starts[seed], search=spent[seed]) for seed in request.seeds]

    def rewind_points(self, request: ArmRequest) -> dict[int, tuple[Params, object]]:
        """(weights, start spec) each seed's ticket is rewound to: init, or the dense parent at epoch k."""
        k = self.params.rewind_epoch
        if k == 0:
            return {seed: (request.parent(seed), {"init": seed}) for seed in request.seeds}
        parents = request.cache.trained_parents(request.seeds, snapshot_epoch=k)
        return {seed: (parents[seed][1], trained_spec(seed, k)) for seed in request.seeds}

    def tickets(self, request: ArmRequest) -> dict[int, WeightMask]:
        """Each seed's lottery mask at this sparsity (the trajectory is computed once per run)."""
        return {seed: ticket for seed, (ticket, _) in self._memo(request).items()}

    def spent(self, request: ArmRequest) -> dict[int, Spend]:
        """What finding each seed's ticket at this sparsity spent: the trained parent and every
        round trained before this target (counted for each arm that uses the ticket)."""
        return {seed: spend for seed, (_, spend) in self._memo(request).items()}

    def _memo(self, request: ArmRequest) -> dict[int, tuple[WeightMask, Spend]]:
        key = ("lottery", self.params, request.seeds)
        if key not in request.memo:
            request.memo[key] = self._trajectory(request)
        return {seed: request.memo[key][seed][request.sparsity] for seed in request.seeds}

    def _trajectory(self, request: ArmRequest) -> dict[int, dict[float, tuple[WeightMask, Spend]]]:
        seeds, rate = request.seeds, self.params.prune_rate
        starts = self.rewind_points(request)
        parents = request.cache.trained_parents(seeds, snapshot_epoch=self.params.rewind_epoch or None)
        trained = {seed: parents[seed][0] for seed in seeds}
        spent = request.cache.parent_spend(seeds)
        masks = {seed: full_weight_mask(request.weight_shapes) for seed in seeds}
        sparsity, rounds = 0.0, 1
        tickets: dict[int, dict[float, tuple[WeightMask, Spend]]] = {seed: {} for seed in seeds}
        for target in self.sparsities(list(request.sparsities)):
            while True:
                following = 1 - (1 - sparsity) * (1 - rate)
                final = following >= target
                level = target if final else following
                pruned = {s: prune_smallest(trained[s], masks[s], level, request.allocation, self.params.pattern,
                                            request.weight_layout) for s in seeds}
                if final:
                    for s in seeds:
                        tickets[s][target] = (pruned[s], spent[s])
                    break
                masks, sparsity, rounds = pruned, following, rounds + 1
                jobs = [Training(*starts[s], s, masks[s]) for s in seeds]
                results = request.cache.trained(jobs, f"lottery round {rounds}")
                trained = {s: final_weights for s, (final_weights, _) in zip(seeds, results)}
                spent = {s: spent[s] + round_spend for s, round_spend in zip(seeds, request.cache.spent(jobs))}
        return tickets


def prune_smallest(weights: Params, mask: WeightMask, sparsity: float, allocation: str, pattern: str | None = None,
                   layout: str = "out_in") -> WeightMask:
    """Remove the smallest surviving weights until `sparsity`, in `pattern` (weights laid out as
    `layout`); pruned weights stay pruned."""
    scores = [s.masked_fill(~m, -float("inf")) for s, m in zip(first(magnitude(one(weights))), mask.layers)]
    return WeightMask(tuple(mask_from_scores(scores, sparsity, allocation, pattern, layout)))
