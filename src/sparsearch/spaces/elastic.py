"""The elastic space of a super-network (Once-for-All, Cai et al. 2020; BigNAS, Yu et al. 2020):
every hidden layer uses one of a list of widths, given as fractions of its parent width, and
keeps its FIRST units. A configuration is an int vector of choice indices, one per hidden layer.
A sub-network is therefore a node mask keeping units 0..k-1, and shares everything (compaction,
costs, the engine) with the node space."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import SparsearchError
from .node import NodeMask


@dataclass(frozen=True)
class ElasticSpace:
    hidden: tuple[int, ...]  # the parent's hidden widths
    fractions: tuple[float, ...]  # allowed widths as fractions, increasing

    def check(self) -> None:
        """Refuse, in one line, a width fraction that rounds some hidden layer to no unit."""
        for layer, width in enumerate(self.hidden, start=1):
            for fraction in self.fractions:
                if round(fraction * width) < 1:
                    raise SparsearchError(f"supernet.widths: {fraction} of hidden layer {layer}'s {width} units "
                                          f"rounds to 0 units; use fractions above {0.5 / width:.3g} or a "
                                          f"wider parent.hidden")

    @property
    def choices(self) -> list[int]:
        return [len(self.fractions)] * len(self.hidden)

    def widths(self, config) -> tuple[int, ...]:
        """Hidden widths of a configuration (at least one unit per layer, as in experiments stored
        before `check` refused a fraction that rounds to none)."""
        return tuple(max(1, round(self.fractions[c] * w)) for c, w in zip(config, self.hidden))

    def mask(self, config) -> NodeMask:
        return NodeMask(tuple(tuple(range(k)) for k in self.widths(config)))

    def largest(self) -> np.ndarray:
        return np.full(len(self.hidden), len(self.fractions) - 1)

    def smallest(self) -> np.ndarray:
        return np.zeros(len(self.hidden), dtype=int)

    def sample(self, gen: torch.Generator, n: int) -> np.ndarray:
        return torch.randint(len(self.fractions), (n, len(self.hidden)), generator=gen).numpy()

    def unit_masks(self, configs: np.ndarray) -> list[torch.Tensor]:
        """Float [K, width] masks of the kept (first) units per hidden layer."""
        out = []
        for layer, width in enumerate(self.hidden):
            kept = torch.tensor([self.widths(c)[layer] for c in configs])
            out.append((torch.arange(width).unsqueeze(0) < kept.unsqueeze(1)).float())
        return out
