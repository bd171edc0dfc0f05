"""The parent protocol: what the engine, the spaces and the arms need from a family of parents.

A parent kind is bound to the data's shape and the config's `[parent]` table when a run starts;
its parameters travel as stacked tensors with a leading population axis, so the engine trains
P networks of one kind as one batched program whatever the kind is.

A kind may also offer `loss_and_grads(params, x, y, grads, decay, dtype) -> losses [P]`, its
training step written out by hand (the MLP's: nets/mlp_step.py); the engine differentiates any
other kind's `forward` with autograd (engine/step.py).
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor, nn

from ..spaces.node import Cost, NodeMask

Params = list[tuple[Tensor, Tensor]]
"""One (weight, bias) pair per layer; stacked: a leading population axis on every tensor."""


def stacked(networks: list[Params]) -> Params:
    """Unstacked networks of equal shapes as one population (a new leading axis)."""
    return [tuple(torch.stack(tensors) for tensors in zip(*layer)) for layer in zip(*networks)]


def joined(populations: list[Params]) -> Params:
    """Populations of equal per-network shapes as one, in order."""
    return [tuple(torch.cat(tensors) for tensors in zip(*layer)) for layer in zip(*populations)]


class Parent(Protocol):
    """One parent architecture at one data shape."""

    kind: str
    widths: tuple[int, ...]  # units of each layer, input to output (node groups: widths[1:-1])

    def spec(self) -> dict:
        """Everything that fixes the architecture: part of every trial key."""

    def init(self, seed: int) -> Params:
        """The parent of replicate `seed` at initialisation, unstacked."""

    def forward(self, params: Params, x: Tensor) -> Tensor:
        """Logits [P, B, classes] of stacked networks for x [P, B, ...] or a shared x [B, ...]."""

    def compact(self, params: Params, masks: list[NodeMask]) -> Params:
        """The thinner networks of node `masks`, stacked, inheriting the unstacked `params`."""

    def cost(self, mask) -> Cost:
        """Node and weight sparsity, params and FLOPs of a node or weight mask."""

    def state_dict(self, params: Params) -> dict[str, Tensor]:
        """One unstacked network's parameters as the state dict of `module(params)`."""

    def from_state_dict(self, state: dict[str, Tensor]) -> Params:
        """The inverse of `state_dict`."""

    def module(self, params: Params, weight_mask=None) -> nn.Module:
        """One unstacked network as a ready `nn.Module`; a weight mask is attached as
        `torch.nn.utils.prune` `weight_mask` buffers."""
