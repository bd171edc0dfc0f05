"""`gmp`: gradual magnitude pruning during training with the cubic schedule
s_t = s_f + (s_i - s_f)(1 - (t - t0)/(n dt))^3, s_i = 0 (Zhu & Gupta 2017, "To prune, or not to
prune"). The network starts dense from the initialisation; at each of `search.gmp_events`
pruning steps, evenly spaced between `gmp_start` and `gmp_end` (fractions of training), the
smallest surviving weights (`search.allocation`) are removed to reach s_t; pruned weights stay
pruned. The recorded mask is the final one."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..engine.trainer import steps_per_epoch
from ..pruning import cubic_sparsity
from ..spaces.weight import WeightMask, full_weight_mask
from .base import MaskRequest, SparseArm, TrialPlan
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


class Gmp(SparseArm):
    name = "gmp"
    spaces = ("weight",)

    def plan(self, request: MaskRequest) -> TrialPlan:
        search, train = request.config.search, request.config.train
        total = train.epochs * steps_per_epoch(request.data.x_train.shape[0], train.batch_size)
        t0, end = round(search.gmp_start * total), round(search.gmp_end * total)
        dt = max(1, (end - t0) // search.gmp_events)
        hook = GradualMagnitude(request.sparsity, search.allocation, t0, dt, search.gmp_events)
        return TrialPlan(full_weight_mask(request.widths), request.parent, {"init": request.seed}, hook, vars(hook))
