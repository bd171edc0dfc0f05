"""`gmp`: gradual magnitude pruning during training with the cubic schedule
s_t = s_f + (s_i - s_f)(1 - (t - t0)/(n dt))^3, s_i = 0 (Zhu & Gupta 2017, "To prune, or not to
prune"). The network starts dense from the initialisation; at each of `events` pruning steps,
evenly spaced between `start` and `end` (fractions of training), the smallest surviving weights
(`search.allocation`) are removed to reach s_t; pruned weights stay pruned. The recorded mask is
the final one.

The paper's steps t0 + k dt, k = 1..n, need an integer dt; so that the last one lands on `end`
in any run, event k is at step t0 + ceil(k (end - t0) / n) and prunes to the sparsity of
(t - t0)/(n dt) = k/n.

With `pattern = "N:M"` (arms/patterned.py) s_f is 1 - N/M, the only sparsity the arm runs at:
the last event leaves exactly N of every M weights of a row, and earlier events follow the
schedule (`search.allocation`) without removing a weight among its group's N best survivors.
With a block pattern every event removes whole blocks."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..config import Config
from ..engine.memory import refuse_over
from ..pruning import cubic_sparsity
from ..spaces.weight import WeightMask, full_weight_mask
from .base import ArmRequest, PerSeedArm, TrialPlan
from .lottery import prune_smallest
from .patterned import Patterned, PatternSetting


EVENT_BYTES = 40
"""Bytes of one event step in a hook's tuple: a Python int and its slot (a lower bound)."""


def event_steps(t0: int, end: int, n: int) -> tuple[int, ...]:
    """The steps (counted from 1) of the n pruning events after t0, the last at `end` (or at
    t0 + 1 if `end` is not after t0); events share a step when there are more than steps."""
    span = max(1, end - t0)
    return tuple(t0 + -(-k * span // n) for k in range(1, n + 1))


@dataclass(frozen=True)
class GradualMagnitude:
    """The step hook: prunes one network at its event steps, at a step shared by several events
    to the sparsity of the last of them, in `pattern` (None: unstructured) of weights laid out
    as `layout`."""

    final_sparsity: float
    allocation: str
    steps: tuple[int, ...]
    pattern: str | None = None
    layout: str = "out_in"

    def spec(self) -> dict:
        """What the trial key records: the layout follows from the parent (keyed with the run),
        an unset pattern is left out (so unstructured trials keep their keys)."""
        fields = {"final_sparsity": self.final_sparsity, "allocation": self.allocation, "steps": self.steps}
        return fields if self.pattern is None else {**fields, "pattern": self.pattern}

    def __call__(self, step: int, weights: list[torch.Tensor], masks: list[torch.Tensor]):
        k = bisect_right(self.steps, step)
        if k == 0 or self.steps[k - 1] != step:
            return None
        sparsity = cubic_sparsity(k, 0.0, self.final_sparsity, 0, len(self.steps), 1)
        layers = [(w, torch.zeros(w.shape[1], device=w.device)) for w in weights]
        return list(prune_smallest(layers, WeightMask(tuple(masks)), sparsity, self.allocation, self.pattern,
                                   self.layout).layers)


class Gmp(Patterned, PerSeedArm):
    name = "gmp"
    spaces = ("weight",)

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        start: float = Field(0.0, ge=0, lt=1, description="first pruning, as a fraction of training")
        end: float = Field(0.75, gt=0, le=1, description="last pruning, as a fraction of training")
        events: int = Field(10, ge=1, description="number of pruning steps")
        pattern: PatternSetting = None

        @model_validator(mode="after")
        def _ordered(self):
            if self.start >= self.end:
                raise ValueError(f"start ({self.start}) must be below end ({self.end})")
            return self

    def check_scale(self, config: Config) -> None:
        """Every trial's hook holds its event steps (a Python int each, at least EVENT_BYTES)."""
        trials = len(config.experiment.seed_list) * len(config.search.sparsities)
        refuse_over(self.params.events * trials * EVENT_BYTES, f"arms.{self.name}.events", self.params.events,
                    f"the pruning steps of {trials} trial(s)", "use fewer events (at most one per training step "
                    "is ever distinct)")

    def choose(self, request: ArmRequest, seed: int) -> TrialPlan:
        total = request.trainer.recipe.epochs * request.trainer.steps_per_epoch()
        t0, end = round(self.params.start * total), round(self.params.end * total)
        hook = GradualMagnitude(request.sparsity, request.allocation, event_steps(t0, end, self.params.events),
                                self.params.pattern, request.weight_layout)
        return TrialPlan(full_weight_mask(request.weight_shapes), request.parent(seed), {"init": seed}, hook,
                         hook.spec())
