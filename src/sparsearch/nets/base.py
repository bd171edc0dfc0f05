"""The parent protocol: what the engine, the spaces and the arms need from a family of parents.

A parent kind is bound to the data's shape and the config's `[parent]` table when a run starts;
its parameters travel as stacked tensors with a leading population axis, so the engine trains
P networks of one kind as one batched program whatever the kind is.

Parameters are one tuple per layer. Element 0 of each tuple is the layer's weight, the tensor
the weight space masks (an MLP's [in, out], a convolution's [out, in, *kernel]); the rest are
never pruned (biases, BatchNorm's affine parameters and statistics). Node groups (MLP hidden
units, conv channels) are `widths[1:-1]`: the node space keeps a subset of each group.

A kind may also offer `loss_and_grads(params, x, y, grads, decay, dtype, label_smoothing=0.0)
-> losses [P]`, its training step written out by hand (the MLP's: nets/mlp_step.py); the engine differentiates any
other kind's `forward` with autograd (engine/step.py). A kind with BatchNorm offers
`calibrate(params, x)`, which sets its normalization statistics from training data before
every evaluation (Ioffe & Szegedy 2015, Algorithm 2), and `norm_parameters(params)`: the
BatchNorm (gamma, beta) [P, out] that normalizes each layer's outputs (None for a layer without
one). A kind whose weights are [in, out] says `weight_layout = "in_out"` (out first otherwise).
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor, nn

from ..spaces.node import NodeMask
from .geometry import Cost

Params = list[tuple[Tensor, ...]]
"""One tuple per layer, its weight first; stacked: a leading population axis on every tensor."""

Layers = list[tuple[Tensor, Tensor]]
"""An MLP's parameters: one (weight, bias) pair per layer; stacked: weight [P, in, out], bias [P, out]."""


def stacked(networks: list[Params]) -> Params:
    """Unstacked networks of equal shapes as one population (a new leading axis)."""
    return [tuple(torch.stack(tensors) for tensors in zip(*layer)) for layer in zip(*networks)]


def joined(populations: list[Params]) -> Params:
    """Populations of equal per-network shapes as one, in order."""
    return [tuple(torch.cat(tensors) for tensors in zip(*layer)) for layer in zip(*populations)]


def rows(params: Params, index) -> Params:
    """Networks `index` (an int: one unstacked network; a slice: a smaller population)."""
    return [tuple(t[index] for t in layer) for layer in params]


def cloned(params: Params) -> Params:
    return [tuple(t.clone() for t in layer) for layer in params]


def population_size(params: Params) -> int:
    return params[0][0].shape[0]


def weight_layout(parent) -> str:
    """The parent kind's weight layout: "in_out" where weights are [in, out] (an MLP's), else "out_in"."""
    return getattr(parent, "weight_layout", "out_in")


class Parent(Protocol):
    """One parent architecture at one data shape."""

    kind: str
    widths: tuple[int, ...]  # flat input features, node group sizes, classes (groups: widths[1:-1])
    weight_shapes: tuple[tuple[int, ...], ...]  # each layer's weight, unstacked

    def spec(self) -> dict:
        """Everything that fixes the architecture: part of every trial key (`nets.from_spec`
        rebuilds the parent from it)."""

    def init(self, seed: int) -> Params:
        """The parent of replicate `seed` at initialisation, unstacked."""

    def forward(self, params: Params, x: Tensor, train: bool = False) -> Tensor:
        """Logits [P, B, classes] of stacked networks for flat features x [P, B, F] or a shared
        x [B, F]; `train` selects batch statistics in normalization layers."""

    def compact(self, params: Params, masks: list[NodeMask]) -> Params:
        """The thinner networks of node `masks`, stacked, inheriting the unstacked `params`."""

    def unit_scores(self, weight_scores: list[Tensor]) -> list[Tensor]:
        """Per node group, each node's score: the sum of the scores of the weights it owns."""

    def check_node_sparsities(self, sparsities: list[float]) -> None:
        """Refuse, in one line naming the group, a node sparsity that removes every node of a
        group (`nets.geometry.refuse_empty_groups`)."""

    def cost(self, mask) -> Cost:
        """Node and weight sparsity, params and FLOPs of a node or weight mask."""

    def footprint(self, params: Params, batch: int) -> tuple[int, int]:
        """(bytes one network of the stacked `params` needs to train on `batch` examples,
        floats of its widest activation per example): what chunking sizes populations by."""

    def state_dict(self, params: Params) -> dict[str, Tensor]:
        """One unstacked network's parameters as the state dict of `module(params)`."""

    def from_state_dict(self, state: dict[str, Tensor]) -> Params:
        """The inverse of `state_dict`."""

    def module(self, params: Params, weight_mask=None) -> nn.Module:
        """One unstacked network as a ready `nn.Module`; a weight mask is attached as
        `torch.nn.utils.prune` `weight_mask` buffers."""
