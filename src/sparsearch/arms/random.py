"""`random`: one uniformly random node mask at the sparsity, the control of arXiv 2403.08265."""

from __future__ import annotations

from ..spaces.node import NodeMask, sample_mask
from .base import MaskRequest


class Random:
    name = "random"

    def sparsities(self, requested: list[float]) -> list[float]:
        return list(requested)

    def candidates(self, config) -> int:
        return 0

    def choose_mask(self, request: MaskRequest) -> NodeMask:
        return sample_mask(request.hidden, request.sparsity, request.rng)
