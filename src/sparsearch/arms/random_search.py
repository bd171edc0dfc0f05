"""`random_search`: random search over the node space (arXiv 2403.08265, "Random Search as a
Baseline for Sparse Neural Network Architecture Search").

Draw K uniformly random node masks at the sparsity, score each by its loss on a fixed probe
batch of training data (at initialisation, or after `probe_steps` SGD steps of the training
recipe), keep the lowest-loss mask (first on ties). The paper does not publish its exact
scoring rule; this probe is our choice (docs/method.md).
"""

from __future__ import annotations

import torch

from ..engine.probe import probe_losses
from ..spaces.node import sample_mask
from .base import MaskRequest, SparseArm, TrialPlan, at_init


class RandomSearch(SparseArm):
    name = "random_search"
    spaces = ("node",)


    def plan(self, request: MaskRequest) -> TrialPlan:
        search = request.config.search
        masks = [sample_mask(request.hidden, request.sparsity, request.rng) for _ in range(search.candidates)]
        probe = request.probe_indices()
        losses = probe_losses(
            request.parent,
            masks,
            request.data,
            probe,
            steps=search.probe_steps if search.probe == "steps" else 0,
            recipe=request.config.train,
            order_seed=request.seed,
            max_population=request.config.engine.max_population,
            max_memory=request.config.engine.max_memory,
        )
        return at_init(request, masks[int(torch.argmin(losses))])
