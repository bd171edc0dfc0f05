"""A ReLU MLP whose parameters are stacked for P networks: weights [P, in, out], biases [P, out].

Initialisation is PyTorch's `nn.Linear` default (Kaiming-uniform with a = sqrt(5), i.e.
U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases), drawn in `nn.Linear`'s order so a
parent built with seed s equals `nn.Sequential(nn.Linear, ...)` built after `torch.manual_seed(s)`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

Layers = list[tuple[Tensor, Tensor]]
"""One (weight, bias) pair per layer; stacked: weight [P, in, out], bias [P, out]."""


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


def forward(layers: Layers, x: Tensor) -> Tensor:
    """Logits [P, B, classes] for inputs x of shape [P, B, in] (one batch per network)
    or [B, in] (the same batch for every network)."""
    h = x if x.dim() == 3 else x.expand(layers[0][0].shape[0], *x.shape)
    last = len(layers) - 1
    for i, (weight, bias) in enumerate(layers):
        h = torch.baddbmm(bias.unsqueeze(1), h, weight)
        if i < last:
            h = torch.relu_(h)
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
