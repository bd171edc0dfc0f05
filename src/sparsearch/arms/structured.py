"""Structured pruning criteria as node-space arms: `l1_norm` (Li et al. 2017), `taylor`
(Molchanov et al. 2019), `fpgm` (He et al. 2019) and `slimming` (Liu et al. 2017's BatchNorm
scale, for parents with BatchNorm). The criteria are in unit_importance.py.

Each scores the nodes of the trained dense parent of its seed (all seeds' parents trained, and
scored, as one population) and keeps the best nodes at the node sparsity: per group
(`allocation = "uniform"`) or ranked across groups, each keeping its best node (`"global"`).

What the kept sub-network trains from (`start`), after Liu et al. 2019 ("Rethinking the Value
of Network Pruning"):
- `init`: the parent's initialisation of the seed, as every node-space arm (the paired design);
- `trained`: the trained parent's weights, fine-tuned for `finetune_epochs` (the recipe's by default);
- `reinit`: a fresh initialisation (Scratch-E).
With `budget = "flops"` a sub-network trained from an initialisation trains for the recipe's
epochs times the FLOPs its pruning saved, at most twice as long (Scratch-B, as Liu et al. 2019 cap it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import SparsearchError
from ..nets.base import Parent, stacked
from ..probes import FORWARD_BACKWARD
from ..seeding import stable_seed
from ..spaces.node import NodeMask, full_mask, mask_from_unit_scores
from ..unit_importance import bn_scale, fpgm, has_batchnorm, l1_norm, taylor, unit_scores
from .base import Arm, ArmRequest, TrialPlan
from .training import Spend, trained_spec

SCRATCH_B_CAP = 2.0
"""Scratch-B trains at most this many times the recipe's epochs (Liu et al. 2019)."""


class StructuredParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    allocation: Literal["uniform", "global"] = "uniform"
    start: Literal["init", "trained", "reinit"] = "init"
    finetune_epochs: int | None = Field(None, ge=1, description="with start = trained: epochs of fine-tuning")
    budget: Literal["equal", "flops"] = "equal"

    @model_validator(mode="after")
    def _settings_fit_start(self):
        if self.finetune_epochs is not None and self.start != "trained":
            raise ValueError(f"finetune_epochs applies with start = 'trained' only, got start = {self.start!r}")
        if self.budget == "flops" and self.start == "trained":
            raise ValueError("budget = 'flops' (Scratch-B) trains from an initialisation; use start = 'init' or "
                             "'reinit', or finetune_epochs with start = 'trained'")
        return self


class StructuredArm(Arm):
    """A criterion scoring the trained parent's filters (`filter_scores`: by default the
    weight-only `criterion` of unit_importance.py)."""

    spaces = ("node",)
    Params = StructuredParams
    criterion: ClassVar[Callable[..., list]]  # (parent, stacked trained parents) -> filter scores per layer

    def filter_scores(self, request: ArmRequest, seeds: tuple[int, ...], trained) -> list:
        return type(self).criterion(request.trainer.parent, trained)

    def scoring_spend(self, request: ArmRequest) -> Spend:
        """What scoring one trained parent spends beyond training it (none for weight-only criteria)."""
        return Spend()

    def plan(self, request: ArmRequest) -> list[TrialPlan]:
        parents = request.cache.trained_parents(request.seeds)
        spent = request.cache.parent_spend(request.seeds)
        trained = stacked([parents[seed][0] for seed in request.seeds])
        scores = unit_scores(request.trainer.parent, self.filter_scores(request, request.seeds, trained))
        return [self._trial(request, seed, mask_from_unit_scores(units, request.sparsity, self.params.allocation),
                            parents[seed][0], spent[seed] + self.scoring_spend(request))
                for seed, units in zip(request.seeds, scores)]

    def _trial(self, request: ArmRequest, seed: int, mask: NodeMask, trained, spent: Spend) -> TrialPlan:
        p, parent = self.params, request.trainer.parent
        if p.start == "trained":
            return TrialPlan(mask, trained, trained_spec(seed, request.trainer.recipe.epochs), epochs=p.finetune_epochs,
                             search=spent)
        if p.start == "reinit":
            start, spec = parent.init(stable_seed("reinit", seed)), {"reinit": seed}
        else:
            start, spec = request.parent(seed), {"init": seed}
        return TrialPlan(mask, start, spec, epochs=scratch_b_epochs(parent, mask, request.trainer.recipe.epochs)
                         if p.budget == "flops" else None, search=spent)


def scratch_b_epochs(parent: Parent, mask: NodeMask, epochs: int) -> int:
    """The recipe's epochs scaled by the FLOPs `mask` saves, capped at SCRATCH_B_CAP times (Liu et al. 2019)."""
    saved = parent.cost(full_mask(parent.widths[1:-1])).flops / parent.cost(mask).flops
    return round(epochs * min(saved, SCRATCH_B_CAP))


class L1Norm(StructuredArm):
    """`l1_norm`: a node's score is the L1 norm of its filters (Li et al. 2017)."""

    name = "l1_norm"
    criterion = staticmethod(l1_norm)


class Fpgm(StructuredArm):
    """`fpgm`: a node's filters' distances to the other filters of their layers (He et al. 2019)."""

    name = "fpgm"
    criterion = staticmethod(fpgm)


class Slimming(StructuredArm):
    """`slimming`: |gamma| of a node's BatchNorm (Liu et al. 2017); parents with BatchNorm only."""

    name = "slimming"
    criterion = staticmethod(bn_scale)

    def check_parent(self, parent: Parent) -> None:
        if not has_batchnorm(parent):
            raise SparsearchError(f"arms.{self.name}: ranks nodes by their BatchNorm scale, and parent kind "
                                  f"{parent.kind!r} has no BatchNorm; use resnet20 or another arm (l1_norm, taylor, fpgm)")


class Taylor(StructuredArm):
    """`taylor`: |sum of w * dL/dw| over a node's filters on the seed's probe batch (Molchanov et al. 2019)."""

    name = "taylor"

    def scoring_spend(self, request):
        return request.probe_spend(FORWARD_BACKWARD)

    def filter_scores(self, request, seeds, trained):
        x, y = zip(*(request.probe_data(seed) for seed in seeds))
        return taylor(request.trainer.parent, trained, torch.stack(x), torch.stack(y))
