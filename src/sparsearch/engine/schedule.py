"""The learning rate of every optimizer step: a pure function of the recipe and the global step,
so a training continued after k epochs steps with the rates it would have had in one go.

Per epoch e (counted from 0), the base rate `lr` is scaled as torch's schedulers stepped once
per epoch scale it: `step` as `MultiStepLR` (times `gamma` for every milestone <= e; He et al.
2016 divide by 10 at 50% and 75% of training), `cosine` as `CosineAnnealingLR` with T_max =
the training's epochs and eta_min 0 ((1 + cos(pi e / epochs)) / 2; Loshchilov & Hutter 2017,
without restarts), `constant` not at all. A linear warmup (Goyal et al. 2017) multiplies that,
per step, by (t + 1) / (warmup_epochs x steps per epoch) until it reaches 1 at the last warmup
step: torch's `LinearLR(start_factor=1/N, total_iters=N-1)` stepped every step.
tests/test_recipes.py compares all three with torch's schedulers."""

from __future__ import annotations

import math
from bisect import bisect_right

import torch

from ..config import TrainConfig


def epoch_factor(recipe: TrainConfig, epoch: int) -> float:
    """The schedule's factor for epoch `epoch` (from 0)."""
    if recipe.schedule == "step":
        return recipe.gamma ** bisect_right(recipe.milestones, epoch)
    if recipe.schedule == "cosine":
        return (1 + math.cos(math.pi * epoch / recipe.epochs)) / 2
    return 1.0


def warmup_factor(recipe: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """The warmup's factor for global step `step` (from 0)."""
    total = recipe.warmup_epochs * steps_per_epoch
    return min(1.0, (step + 1) / total) if total else 1.0


def learning_rate(recipe: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """The rate of global step `step` (from 0) of a training of `steps_per_epoch` steps an epoch."""
    if recipe.schedule == "constant" and not recipe.warmup_epochs:
        return recipe.lr
    return recipe.lr * epoch_factor(recipe, step // steps_per_epoch) * warmup_factor(recipe, step, steps_per_epoch)


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Make a torch optimizer's next step use `lr`."""
    for group in optimizer.param_groups:
        group["lr"] = lr
