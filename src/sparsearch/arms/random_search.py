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
from ..seeding import generator
from ..spaces.node import NodeMask, sample_mask
from .base import MaskRequest


class RandomSearch:
    name = "random_search"

    def sparsities(self, requested: list[float]) -> list[float]:
        return list(requested)

    def candidates(self, config) -> int:
        return config.search.candidates

    def choose_mask(self, request: MaskRequest) -> NodeMask:
        search = request.config.search
        masks = [sample_mask(request.hidden, request.sparsity, request.rng) for _ in range(search.candidates)]
        n_train = request.data.x_train.shape[0]
        probe = torch.randperm(n_train, generator=generator("probe-batch", request.seed))[: search.probe_batch]
        losses = probe_losses(
            request.parent,
            masks,
            request.data,
            probe,
            steps=search.probe_steps if search.probe == "steps" else 0,
            recipe=request.config.train,
            order_seed=request.seed,
            max_population=request.config.engine.max_population,
            on_chunk=request.on_probe,
        )
        return masks[int(torch.argmin(losses))]
