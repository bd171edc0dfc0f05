"""What every arm receives and returns: a request for one (seed, sparsity), a trial plan back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import torch

from ..data import Dataset
from ..engine.masking import StepHook
from ..nets.mlp import Layers
from ..seeding import generator
from ..spaces.node import NodeMask
from ..spaces.weight import WeightMask

if TYPE_CHECKING:
    from ..config import Config

Mask = NodeMask | WeightMask


@dataclass
class MaskRequest:
    """Everything an arm may use to plan the trial of one seed at one sparsity."""

    config: Config
    data: Dataset
    widths: tuple[int, ...]  # the parent's layer widths, input to output
    parent: Layers  # this seed's parent at initialisation, unstacked
    seed: int
    sparsity: float
    rng: torch.Generator  # this arm's own stream for this seed and sparsity
    cache: dict = field(default_factory=dict)  # shared by all arms in one run (trained parents, ...)

    @property
    def hidden(self) -> tuple[int, ...]:
        return self.widths[1:-1]

    @property
    def space(self) -> str:
        return self.config.search.space

    def probe_indices(self) -> torch.Tensor:
        """This seed's fixed batch of `search.probe_batch` training examples (indices), used by
        probes and by data-dependent pruning scores."""
        n = self.data.x_train.shape[0]
        return torch.randperm(n, generator=generator("probe-batch", self.seed))[: self.config.search.probe_batch]

    def probe_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        idx = self.probe_indices()
        return self.data.x_train[idx], self.data.y_train[idx]


@dataclass(frozen=True)
class TrialPlan:
    """What to train: a mask, the starting weights (at the parent's shapes) and, for arms
    that prune during training, a step hook. The specs say what determines each part and go
    into the trial key."""

    mask: Mask
    start: Layers
    start_spec: object
    hook: StepHook | None = None
    hook_spec: object = None


def arm_stream(arm: str, seed: int, sparsity: float) -> torch.Generator:
    """The random stream an arm draws from for one seed and sparsity: a hash of the three, so
    adding an arm never changes another arm's draws."""
    return generator("mask", arm, seed, sparsity)


def at_init(request: MaskRequest, mask: Mask) -> TrialPlan:
    """Train `mask` from the seed's parent initialisation."""
    return TrialPlan(mask, request.parent, {"init": request.seed})


class SparseArm:
    """Base of the arms that run at every sparsity of the config."""

    name: str
    spaces: tuple[str, ...]

    def sparsities(self, requested: list[float]) -> list[float]:
        return list(requested)


class Arm(Protocol):
    """One way of choosing masks."""

    name: str
    spaces: tuple[str, ...]  # the search spaces the arm works in

    def sparsities(self, requested: list[float]) -> list[float]:
        """The sparsities this arm runs at, given the config's list."""

    def plan(self, request: MaskRequest) -> TrialPlan:
        """The trial to train for this seed and sparsity."""
