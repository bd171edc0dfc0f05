"""What every arm is, receives and returns.

An arm is a class holding its own settings (a pydantic `Params`, configured as `[arms.NAME]`),
built like an estimator: `Lottery(prune_rate=0.2)`. For one sparsity it receives a request
for every seed at once and a `Trainer`, and returns one `TrialPlan` per seed; any training it
needs before it can choose (trained parents, lottery rounds) goes through the trainer as
populations across seeds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from pydantic import BaseModel, ConfigDict, ValidationError

from ..analysis.probe_quality import ProbeAudit
from ..config import Config, SearchConfig
from ..engine.masking import StepHook
from ..engine.trainer import Trainer
from ..errors import SparsearchError
from ..nets.base import Params, weight_layout
from ..seeding import generator
from ..spaces.node import NodeMask
from ..spaces.weight import WeightMask
from .training import Spend, TrainingCache

Mask = NodeMask | WeightMask


class NoParams(BaseModel):
    """An arm without settings of its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class ArmRequest:
    """Everything an arm may use to plan the trials of every seed at one sparsity."""

    trainer: Trainer  # the engine bound to the parent kind, data, recipe and limits
    space: str  # "node" or "weight"
    sparsity: float
    sparsities: tuple[float, ...]  # every sparsity of the experiment (for trajectories)
    seeds: tuple[int, ...]
    allocation: str  # weight space: global | uniform | erk
    probe_batch: int  # training examples scored by probes and data-dependent pruning scores
    cache: TrainingCache  # trained parents, lottery rounds: in memory and in the store
    peer: Callable[[str], "Arm"]  # another arm as this experiment configures it
    memo: dict = field(default_factory=dict)  # per-run results shared across sparsities

    @property
    def widths(self) -> tuple[int, ...]:
        return self.trainer.parent.widths

    @property
    def hidden(self) -> tuple[int, ...]:
        return self.widths[1:-1]

    @property
    def weight_shapes(self) -> tuple[tuple[int, ...], ...]:
        return self.trainer.parent.weight_shapes

    @property
    def weight_layout(self) -> str:
        """The parent's weight layout: "in_out" where weights are [in, out] (an MLP's), else "out_in"."""
        return weight_layout(self.trainer.parent)

    def parent(self, seed: int) -> Params:
        """The parent of replicate `seed` at initialisation, unstacked."""
        return self.cache.parent(seed)

    def rng(self, arm: str, seed: int) -> torch.Generator:
        """The random stream `arm` draws from for `seed` at this sparsity: a hash of the three, so
        adding an arm never changes another arm's draws."""
        return generator("mask", arm, seed, self.sparsity)

    def probe_indices(self, seed: int) -> torch.Tensor:
        """This seed's fixed batch of `probe_batch` training examples (indices)."""
        n = self.trainer.data.x_train.shape[0]
        return torch.randperm(n, generator=generator("probe-batch", seed))[: self.probe_batch]

    @property
    def probe_examples(self) -> int:
        """How many examples a probe batch holds."""
        return min(self.probe_batch, self.trainer.data.x_train.shape[0])

    def probe_spend(self, passes_per_example: float) -> Spend:
        """What scoring the parent on the probe batch spends, `passes_per_example` forward-pass
        equivalents per example (forward 1, backward 2)."""
        return Spend(self.cache.pass_epochs(passes_per_example * self.probe_examples))

    def probe_data(self, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = self.probe_indices(seed)
        return self.trainer.data.x_train[idx], self.trainer.data.y_train[idx]


@dataclass(frozen=True)
class TrialPlan:
    """What to train for one seed: a mask, the starting weights (at the parent's shapes), for
    arms that prune during training a step hook, and the epochs to train (None: the recipe's;
    fine-tuning and Scratch-B train for others), and what choosing it spent. The specs say what
    determines each part and go into the trial key."""

    mask: Mask
    start: Params
    start_spec: object
    hook: StepHook | None = None
    hook_spec: object = None
    audit: ProbeAudit | None = None  # how the arm's probe ranked trained candidates (random_search)
    epochs: int | None = None
    search: Spend = Spend()  # what choosing the mask spent, training and scoring (not this trial's own training)
    anytime: tuple[tuple[float, float], ...] = ()  # a search's (cumulative cost, best validation accuracy seen) steps


class Arm:
    """Base of every arm: holds validated `Params`, runs at every sparsity of the config."""

    name: ClassVar[str]
    spaces: ClassVar[tuple[str, ...]]  # the spaces the arm works in
    Params: ClassVar[type[BaseModel]] = NoParams

    def __init__(self, **params):
        unknown = sorted(set(params) - set(self.Params.model_fields))
        if unknown:
            allowed = ", ".join(self.Params.model_fields) or "none"
            raise SparsearchError(f"arms.{self.name}.{unknown[0]}: unknown setting; {self.name} takes: {allowed}")
        try:
            self.params = self.Params.model_validate(params, strict=True)
        except ValidationError as error:
            first = error.errors()[0]
            where = "".join(f".{p}" for p in first["loc"])
            message = first["msg"].removeprefix("Value error, ")
            raise SparsearchError(f"arms.{self.name}{where}: {message}") from None

    @classmethod
    def named(cls, name: str, **params) -> "Arm":
        """The arm under another name (a variant, configured as `[arms.NAME] arm = "CLASS"`)."""
        arm = cls.__new__(cls)
        arm.name = name
        arm.__init__(**params)
        return arm

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.model_dump(exclude_none=True).items())
        return f"{type(self).__name__}({args})"

    def spec(self) -> dict:
        """What the trial key records about the arm: its name and settings, an optional setting
        left unset (None) left out, so adding one keeps every stored trial's key."""
        return {"name": type(self).name, "params": self.params.model_dump(exclude_none=True)}

    def sparsities(self, requested: list[float]) -> list[float]:
        """The sparsities of `requested` (`search.sparsities`) the arm runs at; SparsearchError
        if it can run at none of them."""
        return list(requested)

    def peers(self) -> tuple[str, ...]:
        """The arms whose choices this one reads through `ArmRequest.peer` (a control reads the
        ticket or mask it controls for): it runs only at their sparsities, and they are checked
        with it before the store is touched."""
        return ()

    def check(self, epochs: int) -> None:
        """Refuse settings that conflict with the training recipe (raise SparsearchError)."""

    def check_search(self, search: SearchConfig) -> None:
        """Refuse settings that conflict with the shared `[search]` table (space, sparsities,
        allocation) (raise SparsearchError), before the store is touched."""

    def check_parent(self, parent) -> None:
        """Refuse a parent the arm cannot work on (raise SparsearchError), before the store is touched."""

    def check_scale(self, config: Config) -> None:
        """Refuse settings whose work would allocate more than this machine's memory
        (`engine.memory.refuse_over`), before anything is allocated."""

    @classmethod
    def quick(cls, table: dict) -> dict:
        """The arm's `[arms.NAME]` table shrunk for a smoke run (`--quick`)."""
        return table

    def plan(self, request: ArmRequest) -> list[TrialPlan]:
        """One trial plan per seed of `request.seeds`, in that order."""
        raise NotImplementedError


def planned_sparsities(arm: Arm, requested: list[float], peer: Callable[[str], Arm]) -> list[float]:
    """The sparsities `arm` runs at: its own choice among `requested`, narrowed by each of its peers'."""
    chosen = arm.sparsities(list(requested))
    for name in arm.peers():
        chosen = peer(name).sparsities(chosen)
    return chosen


BUDGET_DESCRIPTION = "stop the search at this search cost, in dense-parent epochs (none if unset)"


def affordable(budget: float | None, each: float, most: int) -> int:
    """How many steps costing `each` a search may take within `budget` dense-parent epochs:
    `most` without a budget, at least one (a search that chooses must evaluate something)."""
    if budget is None or each <= 0:
        return most
    return max(1, min(most, int(budget / each + 1e-9)))


def at_init(request: ArmRequest, seed: int, mask: Mask, search: Spend = Spend()) -> TrialPlan:
    """Train `mask` from the seed's parent initialisation; choosing it spent `search`."""
    return TrialPlan(mask, request.parent(seed), {"init": seed}, search=search)


class PerSeedArm(Arm):
    """An arm that chooses each seed's mask on its own, with no training (`choose`)."""

    def choose(self, request: ArmRequest, seed: int) -> TrialPlan:
        raise NotImplementedError

    def plan(self, request: ArmRequest) -> list[TrialPlan]:
        return [self.choose(request, seed) for seed in request.seeds]
