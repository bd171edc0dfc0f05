"""A ReLU MLP whose parameters are stacked for P networks: weights [P, in, out], biases [P, out].

Initialisation is PyTorch's `nn.Linear` default (Kaiming-uniform with a = sqrt(5), i.e.
U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases), drawn in `nn.Linear`'s order so a
parent built with seed s equals `nn.Sequential(nn.Linear, ...)` built after `torch.manual_seed(s)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
import torch.nn.utils.prune  # noqa: F401  (nn.utils.prune)

from ..engine.chunking import mlp_footprint, network_bytes
from ..errors import SparsearchError
from ..spaces.node import NodeMask
from ..spaces.weight import WeightMask
from .base import Layers
from .geometry import Cost, refuse_empty_groups
from .mlp_step import loss_and_grads



def parent_widths(n_features: int, hidden: list[int] | tuple[int, ...], n_classes: int) -> tuple[int, ...]:
    """Layer widths of the parent, input to output."""
    return (n_features, *hidden, n_classes)


def init_parent(widths: tuple[int, ...], seed: int) -> Layers:
    """One unstacked parent: weight [in, out], bias [out], as nn.Linear would initialise it."""
    gen = torch.Generator().manual_seed(seed)
    layers = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        weight = torch.empty(fan_out, fan_in)
        torch.nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=gen)
        bound = 1 / math.sqrt(fan_in)
        bias = torch.empty(fan_out).uniform_(-bound, bound, generator=gen)
        layers.append((weight.t().contiguous(), bias))
    return layers


def forward(layers: Layers, x: Tensor, hidden: list[Tensor] | None = None) -> Tensor:
    """Logits [P, B, classes] for inputs x of shape [P, B, in] (one batch per network)
    or [B, in] (the same batch for every network); each hidden ReLU output is appended to
    `hidden` if given (probes read activations)."""
    h = x if x.dim() == 3 else x.expand(layers[0][0].shape[0], *x.shape)
    last = len(layers) - 1
    for i, (weight, bias) in enumerate(layers):
        h = torch.baddbmm(bias.unsqueeze(1), h, weight)
        if i < last:
            h = torch.relu_(h)
            if hidden is not None:
                hidden.append(h)
    return h


def state_dict(layers: Layers) -> dict[str, Tensor]:
    """One unstacked network as the state dict of `nn.Sequential(Linear, ReLU, ..., Linear)`."""
    return {
        f"{2 * i}.{name}": tensor.contiguous()
        for i, (w, b) in enumerate(layers)
        for name, tensor in (("weight", w.t()), ("bias", b))
    }


def from_state_dict(state: dict[str, Tensor]) -> Layers:
    """The inverse of `state_dict`."""
    return [(state[f"{2 * i}.weight"].t().contiguous(), state[f"{2 * i}.bias"]) for i in range(len(state) // 2)]


def check_hidden(hidden: list[int] | tuple[int, ...], sparsities: list[float]) -> None:
    """Refuse node sparsities that remove every unit of a hidden layer of widths `hidden`."""
    groups = [(f"units of hidden layer {layer}", width) for layer, width in enumerate(hidden, start=1)]
    refuse_empty_groups(groups, sparsities, "a wider parent.hidden")


def check_settings(config, node_sparsities: list[float]) -> None:
    """What the `[parent]` table alone refuses, before the data loads: node sparsities that empty
    a hidden layer, and hidden layers too wide for one network to train within `[engine]
    max_memory_gb` whatever the data (its shape is checked again once loaded)."""
    check_hidden(config.parent.hidden, node_sparsities)
    need = network_bytes((1, *config.parent.hidden, 1), config.train.batch_size)
    if need > config.engine.max_memory:
        raise SparsearchError(
            f"parent.hidden {config.parent.hidden}: one network needs at least {need / 2**30:.3g} GB to train at "
            f"train.batch_size {config.train.batch_size}, over engine.max_memory_gb = {config.engine.max_memory_gb}; "
            f"use narrower layers or a larger budget"
        )


def compact(parent: Layers, masks: list[NodeMask]) -> Layers:
    """Stack the compacted networks of node `masks` over one unstacked parent: weights [K, in', out']."""
    kept = [torch.tensor([m.keep[i] for m in masks], dtype=torch.long) for i in range(len(parent) - 1)]
    layers = []
    for i, (weight, bias) in enumerate(parent):
        rows = kept[i - 1] if i > 0 else None
        cols = kept[i] if i < len(kept) else None
        w = weight.expand(len(masks), *weight.shape) if rows is None else weight[rows]
        b = bias.expand(len(masks), *bias.shape)
        if cols is not None:
            w = torch.gather(w, 2, cols.unsqueeze(1).expand(-1, w.shape[1], -1))
            b = torch.gather(b, 1, cols)
        layers.append((w.contiguous(), b.contiguous()))
    return layers


def weights_and_flops(widths: tuple[int, ...]) -> tuple[int, int, int]:
    """(weights, params, forward FLOPs per example) of a dense MLP with these widths.

    FLOPs count each multiply-add of the weight matrices as 2 (bias adds and ReLUs are not
    counted)."""
    weights = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    biases = sum(widths[1:])
    return weights, weights + biases, 2 * weights


def node_cost(parent_widths: tuple[int, ...], mask: NodeMask) -> Cost:
    """Cost of the compacted network of node `mask` relative to the parent."""
    widths = (parent_widths[0], *(len(layer) for layer in mask.keep), parent_widths[-1])
    parent_weights, _, _ = weights_and_flops(parent_widths)
    weights, params, flops = weights_and_flops(widths)
    hidden_total = sum(parent_widths[1:-1])
    removed = hidden_total - sum(widths[1:-1])
    return Cost(removed / hidden_total, 1 - weights / parent_weights, params, flops)


def weight_cost(parent_widths: tuple[int, ...], mask: WeightMask) -> Cost:
    """Cost of weight `mask`: weight sparsity over all weights; node sparsity counts hidden units
    left with no incoming or no outgoing weight (dead units); params = kept weights + all
    biases; FLOPs = 2 per kept multiply-add."""
    parent_weights, parent_params, _ = weights_and_flops(parent_widths)
    kept = sum(mask.kept())
    dead = 0
    for incoming, outgoing in zip(mask.layers[:-1], mask.layers[1:]):
        alive = incoming.any(0) & outgoing.any(1)
        dead += int((~alive).sum())
    hidden = sum(parent_widths[1:-1])
    return Cost(dead / hidden, 1 - kept / parent_weights, parent_params - parent_weights + kept, 2 * kept)


def stacked_widths(layers: Layers) -> tuple[int, ...]:
    """The widths of stacked networks, input to output."""
    return (layers[0][0].shape[1], *(w.shape[2] for w, _ in layers))


@dataclass(frozen=True)
class MLP:
    """The `mlp` parent kind: features -> hidden ReLU layers -> classes."""

    widths: tuple[int, ...]
    kind: str = "mlp"
    weight_layout = "in_out"  # weights are [in, out] (nets/base.py)

    @classmethod
    def from_config(cls, config, shape: tuple[int, ...], n_classes: int) -> "MLP":
        return cls(parent_widths(math.prod(shape), config.hidden, n_classes))

    @classmethod
    def of(cls, layers: Layers) -> "MLP":
        """The MLP whose widths are those of the stacked `layers`."""
        return cls(stacked_widths(layers))

    @property
    def weight_shapes(self) -> tuple[tuple[int, int], ...]:
        return tuple(zip(self.widths[:-1], self.widths[1:]))

    def spec(self) -> dict:
        return {"kind": self.kind, "widths": list(self.widths)}

    def init(self, seed: int) -> Layers:
        return init_parent(self.widths, seed)

    def forward(self, params: Layers, x: Tensor, train: bool = False) -> Tensor:
        return forward(params, x)

    def footprint(self, params: Layers, batch: int) -> tuple[int, int]:
        return mlp_footprint(stacked_widths(params), batch)

    def unit_scores(self, weight_scores: list[Tensor]) -> list[Tensor]:
        """A hidden unit's score: the sum of its incoming weights' scores (weights [in, out])."""
        return [scores.sum(0) for scores in weight_scores[:-1]]

    def loss_and_grads(self, params: Layers, x: Tensor, y: Tensor, grads: Layers, decay: float,
                       dtype: torch.dtype = torch.float32, label_smoothing: float = 0.0) -> Tensor:
        return loss_and_grads(params, x, y, grads, decay, dtype, label_smoothing)

    def compact(self, params: Layers, masks: list[NodeMask]) -> Layers:
        return compact(params, masks)

    def cost(self, mask: NodeMask | WeightMask) -> Cost:
        return weight_cost(self.widths, mask) if isinstance(mask, WeightMask) else node_cost(self.widths, mask)

    def check_node_sparsities(self, sparsities: list[float]) -> None:
        check_hidden(self.widths[1:-1], sparsities)

    def state_dict(self, params: Layers) -> dict[str, Tensor]:
        return state_dict(params)

    def from_state_dict(self, state: dict[str, Tensor]) -> Layers:
        return from_state_dict(state)

    def module(self, params: Layers, weight_mask=None) -> nn.Sequential:
        """`nn.Sequential(Linear, ReLU, ..., Linear)` holding `params` (at their own widths); with
        a `weight_mask`, each Linear carries it as `torch.nn.utils.prune`'s `weight_mask` buffer."""
        widths = (params[0][0].shape[0], *(w.shape[1] for w, _ in params))
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(params) - 1 else [])
        module = nn.Sequential(*layers)
        module.load_state_dict(state_dict(params))
        if weight_mask is not None:
            linears = [m for m in module if isinstance(m, nn.Linear)]
            for linear, keep in zip(linears, weight_mask.layers):
                nn.utils.prune.custom_from_mask(linear, "weight", keep.t().to(linear.weight.dtype))
        return module
