"""`oracle`: train all K random candidates fully and keep the one with the best validation
accuracy (test data is never used to choose). With full training as its "probe" it is what
random search means in NAS (Li & Talwalkar 2019, "Random Search and Reproducibility for Neural
Architecture Search") and the ceiling any probe could reach among these candidates at this
training budget. It draws the same candidates as every `random_search` variant. With `budget`
it trains only the first candidates whose training fits in it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..config import Config
from .base import BUDGET_DESCRIPTION, Arm, ArmRequest, TrialPlan, affordable
from .random_search import (candidate_epoch_cost, candidate_masks, candidate_spend, check_candidates,
                            trained_candidates)


class Oracle(Arm):
    name = "oracle"
    spaces = ("node",)

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        candidates: int = Field(100, ge=1, description="random node masks trained per seed and sparsity")
        budget: float | None = Field(None, gt=0, description=BUDGET_DESCRIPTION)

    @classmethod
    def quick(cls, table: dict) -> dict:
        return {**table, "candidates": min(table.get("candidates", 100), 10)}

    def check_scale(self, config: Config) -> None:
        check_candidates(self, self.params.candidates, config)

    def plan(self, request: ArmRequest) -> list[TrialPlan]:
        count = affordable(self.params.budget, request.trainer.recipe.epochs * candidate_epoch_cost(request),
                           self.params.candidates)
        masks = {seed: candidate_masks(request, seed, count) for seed in request.seeds}
        metrics = trained_candidates(request, masks, f"oracle at {request.sparsity}")
        spent = candidate_spend(request, masks)
        plans = []
        for seed in request.seeds:
            val = [m["best_val_acc"] for m in metrics[seed]]
            each = spent[seed].epochs / len(val)
            anytime = tuple(((k + 1) * each, max(val[: k + 1])) for k in range(len(val)))  # in the stream's order
            plans.append(TrialPlan(masks[seed][val.index(max(val))], request.parent(seed), {"init": seed},
                                   search=spent[seed], anytime=anytime))
        return plans
