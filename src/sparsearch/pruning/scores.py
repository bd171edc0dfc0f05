"""Pruning-at-initialisation scores for ONE unstacked network of any parent kind.

Convention: every function here returns one tensor per layer, shaped like the layer's weight
(element 0 of its parameter tuple; nets/base.py), where a HIGHER score means MORE worth keeping,
so `mask_from_scores` (keep the highest) applies to all. Data-dependent scores run the parent's
forward in training mode (batch statistics in BatchNorm, as the reference implementations do
with `module.train()`); `parent` defaults to the MLP of the network's shapes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import SparsearchError
from ..nets.base import Params, Parent
from ..nets.mlp import MLP
from .allocation import check_sparsity, mask_from_scores


def _check_unstacked(layers: Params) -> None:
    if not layers:
        raise SparsearchError("scoring needs a network with at least one layer")
    for layer in layers:
        if layer[0].dim() < 2:
            raise SparsearchError(f"scores take one unstacked network (a weight of 2 or more dims per layer), got a "
                                  f"weight of shape {tuple(layer[0].shape)}")


def _logits(parent: Parent | None, weights: list[Tensor], layers: Params, x: Tensor, train: bool = True) -> Tensor:
    """Logits [B, C] of one network, `weights` in place of its layers' weights, through the
    parent's stacked `forward`."""
    params = [(w.unsqueeze(0), *(t.detach().unsqueeze(0) for t in layer[1:])) for w, layer in zip(weights, layers)]
    parent = parent or MLP.of(params)
    return parent.forward(params, x, train=train)[0]


def _leaf_weights(layers: Params) -> list[Tensor]:
    return [layer[0].detach().clone().requires_grad_(True) for layer in layers]


def magnitude_scores(layers: Params) -> list[Tensor]:
    """|W|: magnitude pruning (Han et al. 2015)."""
    _check_unstacked(layers)
    return [layer[0].detach().abs() for layer in layers]


def snip_scores(layers: Params, x: Tensor, y: Tensor, parent: Parent | None = None) -> list[Tensor]:
    """|W * dL/dW| with L the mean cross-entropy on (x, y): SNIP connection sensitivity
    (Lee et al. 2019)."""
    _check_unstacked(layers)
    weights = _leaf_weights(layers)
    loss = F.cross_entropy(_logits(parent, weights, layers, x), y)
    grads = torch.autograd.grad(loss, weights)
    return [(w * g).abs().detach() for w, g in zip(weights, grads)]


def hessian_gradient_product(layers: Params, x: Tensor, y: Tensor, temperature: float = 200.0,
                             parent: Parent | None = None) -> list[Tensor]:
    """Hg, the Hessian (w.r.t. the weights) of L(logits / temperature) times its gradient g,
    by double backprop: d/dW sum(g * g.detach()) (Wang et al. 2020, GraSP)."""
    _check_unstacked(layers)
    if not temperature > 0:
        raise SparsearchError(f"GraSP temperature must be > 0, got {temperature!r}")
    weights = _leaf_weights(layers)
    loss = F.cross_entropy(_logits(parent, weights, layers, x) / temperature, y)
    grads = torch.autograd.grad(loss, weights, create_graph=True)
    z = sum((g * g.detach()).sum() for g in grads)
    return [hg.detach() for hg in torch.autograd.grad(z, weights)]


def grasp_scores(layers: Params, x: Tensor, y: Tensor, temperature: float = 200.0,
                 parent: Parent | None = None) -> list[Tensor]:
    """W * Hg, the NEGATED GraSP score (Wang et al. 2020; temperature as in the authors' code).

    GraSP scores S = -W * Hg and removes the largest S; keeping the highest W * Hg (what
    `mask_from_scores` does with this return value) is the same selection.
    """
    hg = hessian_gradient_product(layers, x, y, temperature, parent)
    return [layer[0].detach() * h for layer, h in zip(layers, hg)]


def synflow_scores(layers: Params, masks: list[Tensor] | None = None, parent: Parent | None = None) -> list[Tensor]:
    """|dR/dW * W| with R the summed logits of the network with every parameter replaced by
    its absolute value, weights masked, on one all-ones input (Tanaka et al. 2020, SynFlow;
    normalization layers in inference mode). Data-free; computed and returned in float64.
    Pruned weights score 0."""
    _check_unstacked(layers)
    if masks is None:
        masks = [torch.ones_like(layer[0], dtype=torch.bool) for layer in layers]
    if len(masks) != len(layers) or any(m.shape != layer[0].shape for m, layer in zip(masks, layers)):
        raise SparsearchError("synflow_scores needs one mask per layer, shaped like its weight")
    absolute = [tuple(t.detach().to(torch.float64).abs() for t in layer) for layer in layers]
    weights = [layer[0].requires_grad_(True) for layer in absolute]
    effective = [w * m.to(torch.float64) for w, m in zip(weights, masks)]
    features = parent.widths[0] if parent is not None else weights[0].shape[0]
    x = torch.ones(1, features, dtype=torch.float64, device=weights[0].device)
    r = _logits(parent, effective, absolute, x, train=False).sum()
    grads = torch.autograd.grad(r, weights)
    return [(g * w).abs().detach() for g, w in zip(grads, weights)]


def synflow_mask(layers: Params, sparsity: float, allocation: str = "global", iterations: int = 100,
                 parent: Parent | None = None) -> list[Tensor]:
    """Iterative SynFlow (Tanaka et al. 2020): at iteration k = 1..n keep a fraction
    (1 - s)^(k / n), rescoring with the current mask; pruned weights score -inf so they stay
    pruned. The last iteration uses `sparsity` itself, so the target count is exact."""
    sparsity = check_sparsity(sparsity)
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise SparsearchError(f"SynFlow iterations must be an integer >= 1, got {iterations!r}")
    masks = [torch.ones_like(layer[0], dtype=torch.bool) for layer in layers]
    for k in range(1, iterations + 1):
        step = sparsity if k == iterations else 1.0 - (1.0 - sparsity) ** (k / iterations)
        scores = [s.masked_fill(~m, float("-inf")) for s, m in zip(synflow_scores(layers, masks, parent), masks)]
        masks = mask_from_scores(scores, step, allocation)
    return masks
