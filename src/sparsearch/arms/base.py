"""What every arm receives and returns: a request for one (seed, sparsity), a node mask back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import torch

from ..data import Dataset
from ..nets.mlp import Layers
from ..spaces.node import NodeMask

if TYPE_CHECKING:
    from ..config import Config


@dataclass
class MaskRequest:
    """Everything an arm may use to choose the mask of one trial."""

    config: Config
    data: Dataset
    parent: Layers  # this seed's parent at initialisation, unstacked
    seed: int
    sparsity: float
    rng: torch.Generator  # this arm's own stream for this seed and sparsity
    on_probe: Callable[[int], None] | None = None  # progress: candidates scored

    @property
    def hidden(self) -> tuple[int, ...]:
        return tuple(self.config.parent.hidden)


class Arm(Protocol):
    """One way of choosing masks."""

    name: str

    def sparsities(self, requested: list[float]) -> list[float]:
        """The node sparsities this arm runs at, given the config's list."""

    def candidates(self, config: Config) -> int:
        """How many masks the arm scores per trial (for progress reporting)."""

    def choose_mask(self, request: MaskRequest) -> NodeMask:
        """The mask to train for this seed and sparsity."""
