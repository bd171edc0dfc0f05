"""The elastic space of a super-network (Once-for-All, Cai et al. 2020; BigNAS, Yu et al. 2020):
every node group of the parent (an MLP's hidden layer, a convolution's channels, a residual
stream) uses one of a list of widths, given as fractions of its parent width, and keeps its
FIRST units; a parent made of blocks (a ResNet's stages, a vit's one stage of transformer
blocks) may also keep only the first `depths[c]` blocks of each stage. A
configuration is an int vector of choice indices: one per node group, then one per stage (only
with depths). Its widths are a node mask keeping units 0..k-1, so it shares compaction, costs
and the engine with the node space."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import SparsearchError
from .node import NodeMask


@dataclass(frozen=True)
class ElasticSpace:
    hidden: tuple[int, ...]  # the parent's node group sizes (an MLP's hidden widths)
    fractions: tuple[float, ...]  # allowed widths as fractions, increasing
    depths: tuple[int, ...] = ()  # allowed blocks per stage, increasing (none: every block)
    stages: int = 0  # stages whose depth is elastic (with `depths`)

    def check(self, names: list[str] | None = None) -> None:
        """Refuse, in one line, a width fraction that rounds some group (`names`, else the MLP's
        hidden layers) to no unit."""
        for layer, width in enumerate(self.hidden, start=1):
            for fraction in self.fractions:
                if round(fraction * width) < 1:
                    what = f"hidden layer {layer}'s" if names is None else f"{names[layer - 1]}:"
                    wider = "a wider parent.hidden" if names is None else "wider parent.channels"
                    raise SparsearchError(f"supernet.widths: {fraction} of {what} {width} units rounds to 0 units; "
                                          f"use fractions above {0.5 / width:.3g} or {wider}")

    @property
    def choices(self) -> list[int]:
        return [len(self.fractions)] * len(self.hidden) + [len(self.depths)] * self.stages

    def width(self, group: int, choice: int) -> int:
        """Units group `group` keeps at width choice `choice` (at least one, as in experiments
        stored before `check` refused a fraction that rounds to none)."""
        return max(1, round(self.fractions[choice] * self.hidden[group]))

    def widths(self, config) -> tuple[int, ...]:
        """Group widths of a configuration."""
        return tuple(self.width(g, int(c)) for g, c in enumerate(config[: len(self.hidden)]))

    def blocks(self, config) -> tuple[int, ...]:
        """Blocks kept per stage (empty without elastic depth)."""
        return tuple(self.depths[int(c)] for c in config[len(self.hidden):])

    def mask(self, config) -> NodeMask:
        return NodeMask(tuple(tuple(range(k)) for k in self.widths(config)))

    def largest(self) -> np.ndarray:
        return np.array(self.choices) - 1

    def smallest(self) -> np.ndarray:
        return np.zeros(len(self.choices), dtype=int)

    def sample(self, gen: torch.Generator, n: int) -> np.ndarray:
        widths = torch.randint(len(self.fractions), (n, len(self.hidden)), generator=gen).numpy()
        if not self.stages:
            return widths
        return np.concatenate([widths, torch.randint(len(self.depths), (n, self.stages), generator=gen).numpy()], 1)
