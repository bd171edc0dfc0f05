"""Structured importance: one score per node of every node group (an MLP's hidden units, a
CNN's channels, a residual stream's tied channels as one), computed on stacked populations. A
HIGHER score means MORE worth keeping.

Every criterion scores the filters (output rows) of every layer, [P, out] per layer; a node's
score is the sum over the layers that write it (`Parent.unit_scores`: a residual stream channel
is written by the stem and by every block's second convolution). This is Torch-Pruning's
group reduction "sum" over a group's output channels; each layer's own score is its
`tp.importance` with group reduction "first" and no normalizer (tests/test_unit_importance.py).

- `l1_norm`: the L1 norm of each filter (Li et al. 2017, "Pruning Filters for Efficient ConvNets").
- `taylor`: the first-order Taylor estimate of the loss change when a filter is removed
  (Molchanov et al. 2019, "Importance Estimation for Neural Network Pruning"; their square ranks
  the same): |sum over the filter of w * dL/dw|, or, where BatchNorm follows the filter (whose
  weights' sum is then 0: the loss is invariant to their scale), the paper's gate after the
  BatchNorm, |gamma * dL/dgamma + beta * dL/dbeta|. L is each network's mean cross-entropy on
  its own batch in training mode, as in saliency.py.
- `fpgm`: the sum of Euclidean distances from each filter to the other filters of its layer;
  the filters nearest the layer's geometric median are the replaceable ones (He et al. 2019,
  "Filter Pruning via Geometric Median for Deep Convolutional Neural Networks Acceleration").
  Torch-Pruning's FPGMImportance measures distances between |w|^p rather than between the
  filters; this follows the paper (the two agree on non-negative weights with p = 1).
- `bn_scale`: |gamma| of the BatchNorm that normalizes each filter's output (Liu et al. 2017,
  "Learning Efficient Convolutional Networks through Network Slimming"), for parents that have
  BatchNorm (`Parent.norm_parameters`). The paper trains with an L1 penalty on gamma first; here
  the parent is trained with the run's recipe, as for every other criterion.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .engine.step import per_network_loss
from .nets.base import Params, Parent, weight_layout


def filters(parent: Parent, weight: Tensor) -> Tensor:
    """A stacked weight [P, ...] as its filters [P, out, fan_in] (a view): the incoming weights
    of each output, whatever the parent's weight layout (an MLP's is [in, out])."""
    if weight_layout(parent) == "in_out":
        return weight.transpose(1, 2)
    return weight.flatten(2)


def l1_norm(parent: Parent, layers: Params) -> list[Tensor]:
    """Each filter's L1 norm (Li et al. 2017): [P, out] per layer."""
    return [filters(parent, layer[0].detach()).abs().sum(-1) for layer in layers]


def taylor(parent: Parent, layers: Params, x: Tensor, y: Tensor) -> list[Tensor]:
    """|sum of w * dL/dw| over each filter, or |gamma * dL/dgamma + beta * dL/dbeta| where
    BatchNorm follows it (Molchanov et al. 2019), network p's L on its own batch x[p] [B, F],
    y[p] [B]: [P, out] per layer."""
    network = [tuple(t.detach().clone().requires_grad_(t.is_floating_point()) for t in layer) for layer in layers]
    norms = norm_parameters(parent, network)
    scored = [(layer[0],) if norm is None else norm for layer, norm in zip(network, norms)]
    loss = per_network_loss(lambda ls, xs: parent.forward(ls, xs, train=True), network, x, y)
    grads = iter(torch.autograd.grad(loss.sum(), [t for tensors in scored for t in tensors]))
    out = []
    for tensors, norm in zip(scored, norms):
        g = [next(grads) for _ in tensors]
        if norm is None:
            out.append((filters(parent, tensors[0].detach()) * filters(parent, g[0])).sum(-1).abs())
        else:
            out.append((norm[0].detach() * g[0] + norm[1].detach() * g[1]).abs())
    return out


def fpgm(parent: Parent, layers: Params) -> list[Tensor]:
    """Each filter's summed Euclidean distance to its layer's filters (He et al. 2019): [P, out] per layer."""
    out = []
    for layer in layers:
        f = filters(parent, layer[0].detach())
        out.append(torch.cdist(f, f).sum(-1))
    return out


def bn_scale(parent: Parent, layers: Params) -> list[Tensor]:
    """|gamma| of each filter's BatchNorm (Liu et al. 2017): [P, out] per layer (zeros for a
    layer without one, which writes no node)."""
    return [filters(parent, layer[0]).new_zeros(filters(parent, layer[0]).shape[:2]) if norm is None
            else norm[0].detach().abs() for layer, norm in zip(layers, norm_parameters(parent, layers))]


def has_batchnorm(parent: Parent) -> bool:
    return hasattr(parent, "norm_parameters")


def norm_parameters(parent: Parent, layers: Params) -> list:
    """The (gamma, beta) of the BatchNorm after each layer, None where there is none."""
    return parent.norm_parameters(layers) if has_batchnorm(parent) else [None] * len(layers)


def unit_scores(parent: Parent, filter_scores: list[Tensor]) -> list[list[Tensor]]:
    """Per network: each node group's scores [width], summing the filter scores [P, out] of the
    layers that write each node."""
    placed = []
    for scores, weight in zip(filter_scores, parent.weight_shapes):
        tensor = torch.zeros(scores.shape[0], *weight, dtype=scores.dtype, device=scores.device)
        filters(parent, tensor)[..., 0] = scores  # a filter's score on its first weight, zeros elsewhere
        placed.append(tensor)
    return [parent.unit_scores([t[p] for t in placed]) for p in range(filter_scores[0].shape[0])]
