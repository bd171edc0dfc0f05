"""Saliency: per-weight scores of a stacked population, one tensor per layer shaped like its
stacked weight [P, ...] (element 0 of each layer's parameters, nets/base.py). A HIGHER score
means MORE worth keeping, so `pruning.mask_from_scores` applies to each network's scores and
the probes of probes.py are their sums per network.

L below is each network's own mean cross-entropy on the batch (x, y), its forward in training
mode (batch statistics in normalization layers, as the reference implementations run with
`module.train()`); the population's loss is the sum of the networks' losses, so every gradient
is exactly that network's own.

- `magnitude`: |W| (Han et al. 2015).
- `snip`: |W * dL/dW|, connection sensitivity (Lee et al. 2019).
- `grasp`: W * Hg, Hg the Hessian of L(logits / temperature) times its gradient by double
  backprop (Wang et al. 2020). This is the NEGATED GraSP score S = -W * Hg: GraSP removes the
  largest S, i.e. keeps the highest W * Hg. The pruning arm uses temperature 200 (the authors'
  code); the `grasp` probe of Abdelfattah et al. 2021 uses none (temperature 1).
- `synflow`: |dR/dW * W|, R the summed logits of the network with every parameter replaced by
  its absolute value, weights masked, on one all-ones input, in float64 (Tanaka et al. 2020).
"""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor

from .engine.step import per_network_loss
from .errors import SparsearchError
from .nets.base import Params, Parent, population_size


def leaves(layers: Params) -> tuple[list[Tensor], Params]:
    """Fresh leaf copies of every weight (what the gradients are taken against) and the layers
    holding them, the other parameters detached."""
    weights = [layer[0].detach().clone().requires_grad_(True) for layer in layers]
    return weights, [(w, *(t.detach() for t in layer[1:])) for w, layer in zip(weights, layers)]


def _forward(parent: Parent, temperature: float, layers: Params, x: Tensor) -> Tensor:
    logits = parent.forward(layers, x, train=True)
    return logits if temperature == 1.0 else logits / temperature


def losses(parent: Parent, layers: Params, x: Tensor, y: Tensor, temperature: float = 1.0) -> Tensor:
    """L of each of P stacked networks on the shared batch x [B, F], y [B]: [P], differentiable."""
    k = population_size(layers)
    return per_network_loss(partial(_forward, parent, temperature), layers, x.expand(k, *x.shape), y.expand(k, -1))


def magnitude(layers: Params) -> list[Tensor]:
    """|W| (Han et al. 2015)."""
    return [layer[0].detach().abs() for layer in layers]


def snip(parent: Parent, layers: Params, x: Tensor, y: Tensor) -> list[Tensor]:
    """|W * dL/dW| (Lee et al. 2019)."""
    weights, network = leaves(layers)
    grads = torch.autograd.grad(losses(parent, network, x, y).sum(), weights)
    return [(w * g).abs().detach() for w, g in zip(weights, grads)]


def hessian_gradient_product(parent: Parent, layers: Params, x: Tensor, y: Tensor, temperature: float) -> list[Tensor]:
    """Hg, the Hessian of L(logits / temperature) times its gradient g, by double backprop:
    d/dW sum(g * g.detach()) (Wang et al. 2020)."""
    if not temperature > 0:
        raise SparsearchError(f"GraSP temperature must be > 0, got {temperature!r}")
    weights, network = leaves(layers)
    grads = torch.autograd.grad(losses(parent, network, x, y, temperature).sum(), weights, create_graph=True)
    return [h.detach() for h in torch.autograd.grad(sum((g * g.detach()).sum() for g in grads), weights)]


def grasp(parent: Parent, layers: Params, x: Tensor, y: Tensor, temperature: float) -> list[Tensor]:
    """W * Hg at `temperature` (Wang et al. 2020): the negated GraSP score (module docstring)."""
    hg = hessian_gradient_product(parent, layers, x, y, temperature)
    return [layer[0].detach() * h for layer, h in zip(layers, hg)]


def synflow(parent: Parent, layers: Params, masks: list[Tensor] | None = None) -> list[Tensor]:
    """|dR/dW * W| in float64 (Tanaka et al. 2020); `masks` (bool, shaped like the stacked
    weights) zero the pruned weights, which score 0. Normalization layers in inference mode."""
    if masks is not None and (len(masks) != len(layers)
                              or any(m.shape != layer[0].shape for m, layer in zip(masks, layers))):
        raise SparsearchError("synflow needs one mask per layer, shaped like its weight")
    absolute = [tuple(t.detach().double().abs() for t in layer) for layer in layers]
    weights = [layer[0].requires_grad_(True) for layer in absolute]
    effective = weights if masks is None else [w * m.double() for w, m in zip(weights, masks)]
    ones = torch.ones(1, parent.widths[0], dtype=torch.float64, device=weights[0].device)
    r = parent.forward([(e, *layer[1:]) for e, layer in zip(effective, absolute)], ones).sum()
    grads = torch.autograd.grad(r, weights)
    return [(w * g).abs().detach() for w, g in zip(weights, grads)]


def per_network(scores: list[Tensor]) -> Tensor:
    """The sum of each network's scores over its layers and weights: [P]."""
    return sum(s.flatten(1).sum(1) for s in scores)


def one(network: Params) -> Params:
    """One unstacked network as a population of one."""
    return [tuple(t.unsqueeze(0) for t in layer) for layer in network]


def first(scores: list[Tensor]) -> list[Tensor]:
    """The scores of the first (for `one`: the only) network of a population."""
    return [s[0] for s in scores]
