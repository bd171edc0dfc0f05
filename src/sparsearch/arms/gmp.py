"""`gmp`: gradual magnitude pruning during training with the cubic schedule
s_t = s_f + (s_i - s_f)(1 - (t - t0)/(n dt))^3, s_i = 0 (Zhu & Gupta 2017, "To prune, or not to
prune"). The network starts dense from the initialisation; at each of `events` pruning steps,
evenly spaced between `start` and `end` (fractions of training), the smallest surviving weights
(`search.allocation`) are removed to reach s_t; pruned weights stay pruned. The recorded mask is
the final one."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..pruning import cubic_sparsity
from ..spaces.weight import WeightMask, full_weight_mask
from .base import ArmRequest, PerSeedArm, TrialPlan
from .lottery import prune_smallest


@dataclass(frozen=True)
class GradualMagnitude:
    """The step hook: prunes one network at steps t0 + k dt, k = 1..n."""

    final_sparsity: float
    allocation: str
    t0: int
    dt: int
    n: int

    def __call__(self, step: int, weights: list[torch.Tensor], masks: list[torch.Tensor]):
        k, rest = divmod(step - self.t0, self.dt)
        if rest or not 1 <= k <= self.n:
            return None
        sparsity = cubic_sparsity(step, 0.0, self.final_sparsity, self.t0, self.n, self.dt)
        layers = [(w, torch.zeros(w.shape[1])) for w in weights]
        return list(prune_smallest(layers, WeightMask(tuple(masks)), sparsity, self.allocation).layers)


class Gmp(PerSeedArm):
    name = "gmp"
    spaces = ("weight",)

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        start: float = Field(0.0, ge=0, lt=1, description="first pruning, as a fraction of training")
        end: float = Field(0.75, gt=0, le=1, description="last pruning, as a fraction of training")
        events: int = Field(10, ge=1, description="number of pruning steps")

        @model_validator(mode="after")
        def _ordered(self):
            if self.start >= self.end:
                raise ValueError(f"start ({self.start}) must be below end ({self.end})")
            return self

    def choose(self, request: ArmRequest, seed: int) -> TrialPlan:
        total = request.trainer.recipe.epochs * request.trainer.steps_per_epoch()
        t0, end = round(self.params.start * total), round(self.params.end * total)
        dt = max(1, (end - t0) // self.params.events)
        hook = GradualMagnitude(request.sparsity, request.allocation, t0, dt, self.params.events)
        return TrialPlan(full_weight_mask(request.widths), request.parent(seed), {"init": seed}, hook, vars(hook))
