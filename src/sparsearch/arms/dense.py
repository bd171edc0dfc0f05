"""`dense`: the parent itself, the upper reference of arXiv 2403.08265."""

from __future__ import annotations

from ..spaces.node import NodeMask, full_mask
from .base import MaskRequest


class Dense:
    name = "dense"

    def sparsities(self, requested: list[float]) -> list[float]:
        return [0.0]

    def candidates(self, config) -> int:
        return 0

    def choose_mask(self, request: MaskRequest) -> NodeMask:
        return full_mask(request.hidden)
