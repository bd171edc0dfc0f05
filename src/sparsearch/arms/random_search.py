"""`random_search`: random search over the node space (arXiv 2403.08265, "Random Search as a
Baseline for Sparse Neural Network Architecture Search").

Draw K = `candidates` uniformly random node masks at the sparsity, score each by its loss on a
fixed probe batch of training data (at initialisation, or after `probe_steps` SGD steps of the
training recipe), keep the lowest-loss mask (first on ties). The K candidates of a seed are
scored as populations. The paper does not publish its exact scoring rule; this probe is our
choice (docs/method.md).
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from ..engine.probe import probe_losses
from ..spaces.node import sample_mask
from .base import ArmRequest, PerSeedArm, TrialPlan, at_init


class RandomSearch(PerSeedArm):
    name = "random_search"
    spaces = ("node",)

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        candidates: int = Field(100, ge=1, description="random node masks scored per seed and sparsity")
        probe: Literal["init_loss", "steps"] = "init_loss"
        probe_steps: int = Field(10, ge=1, description="with probe = steps: SGD steps before scoring")

    @classmethod
    def quick(cls, table: dict) -> dict:
        return {**table, "candidates": min(table.get("candidates", 100), 10)}

    def choose(self, request: ArmRequest, seed: int) -> TrialPlan:
        rng = request.rng(self.name, seed)
        masks = [sample_mask(request.hidden, request.sparsity, rng) for _ in range(self.params.candidates)]
        losses = probe_losses(
            request.trainer, request.parent(seed), masks, request.probe_indices(seed),
            steps=self.params.probe_steps if self.params.probe == "steps" else 0, order_seed=seed,
        )
        return at_init(request, seed, masks[int(torch.argmin(losses))])
