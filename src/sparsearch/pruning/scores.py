"""Pruning-at-initialisation scores for ONE unstacked network (weights [in, out]).

Convention: every function here returns one tensor per layer, shaped like the weights, where a
HIGHER score means MORE worth keeping, so `mask_from_scores` (keep the highest) applies to all.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import SparsearchError
from ..nets.mlp import Layers, forward
from .allocation import check_sparsity, mask_from_scores


def _check_unstacked(layers: Layers) -> None:
    if not layers:
        raise SparsearchError("scoring needs a network with at least one layer")
    for weight, bias in layers:
        if weight.dim() != 2 or bias.dim() != 1:
            raise SparsearchError(
                f"scores take one unstacked network (weight [in, out], bias [out]), got {tuple(weight.shape)}, {tuple(bias.shape)}"
            )


def _logits(weights: list[Tensor], biases: list[Tensor], x: Tensor) -> Tensor:
    """Logits [B, C] of one network through the stacked `forward`."""
    return forward([(w.unsqueeze(0), b.unsqueeze(0)) for w, b in zip(weights, biases)], x)[0]


def _leaf_weights(layers: Layers) -> list[Tensor]:
    return [w.detach().clone().requires_grad_(True) for w, _ in layers]


def magnitude_scores(layers: Layers) -> list[Tensor]:
    """|W|: magnitude pruning (Han et al. 2015)."""
    _check_unstacked(layers)
    return [w.detach().abs() for w, _ in layers]


def snip_scores(layers: Layers, x: Tensor, y: Tensor) -> list[Tensor]:
    """|W * dL/dW| with L the mean cross-entropy on (x, y): SNIP connection sensitivity
    (Lee et al. 2019)."""
    _check_unstacked(layers)
    weights = _leaf_weights(layers)
    loss = F.cross_entropy(_logits(weights, [b.detach() for _, b in layers], x), y)
    grads = torch.autograd.grad(loss, weights)
    return [(w * g).abs().detach() for w, g in zip(weights, grads)]


def _loss_grad(weights: list[Tensor], biases: list[Tensor], x: Tensor, y: Tensor, temperature: float, create_graph: bool):
    loss = F.cross_entropy(_logits(weights, biases, x) / temperature, y)
    return torch.autograd.grad(loss, weights, create_graph=create_graph)


def hessian_gradient_product(layers: Layers, x: Tensor, y: Tensor, temperature: float = 200.0) -> list[Tensor]:
    """Hg, the Hessian (w.r.t. the weights) of L(logits / temperature) times its gradient g,
    by double backprop: d/dW sum(g * g.detach()) (Wang et al. 2020, GraSP)."""
    _check_unstacked(layers)
    if not temperature > 0:
        raise SparsearchError(f"GraSP temperature must be > 0, got {temperature!r}")
    weights = _leaf_weights(layers)
    grads = _loss_grad(weights, [b.detach() for _, b in layers], x, y, temperature, create_graph=True)
    z = sum((g * g.detach()).sum() for g in grads)
    return [hg.detach() for hg in torch.autograd.grad(z, weights)]


def grasp_scores(layers: Layers, x: Tensor, y: Tensor, temperature: float = 200.0) -> list[Tensor]:
    """W * Hg, the NEGATED GraSP score (Wang et al. 2020; temperature as in the authors' code).

    GraSP scores S = -W * Hg and removes the largest S; keeping the highest W * Hg (what
    `mask_from_scores` does with this return value) is the same selection.
    """
    hg = hessian_gradient_product(layers, x, y, temperature)
    return [w.detach() * h for (w, _), h in zip(layers, hg)]


def synflow_scores(layers: Layers, masks: list[Tensor] | None = None) -> list[Tensor]:
    """|dR/dW * W| with R the summed logits of the network with every parameter replaced by
    its absolute value, weights masked, on one all-ones input (Tanaka et al. 2020, SynFlow).
    Data-free; computed and returned in float64. Pruned weights score 0."""
    _check_unstacked(layers)
    if masks is None:
        masks = [torch.ones_like(w, dtype=torch.bool) for w, _ in layers]
    if len(masks) != len(layers) or any(m.shape != w.shape for m, (w, _) in zip(masks, layers)):
        raise SparsearchError("synflow_scores needs one mask per layer, shaped like its weight")
    weights = [w.detach().to(torch.float64).abs().requires_grad_(True) for w, _ in layers]
    biases = [b.detach().to(torch.float64).abs() for _, b in layers]
    effective = [w * m.to(torch.float64) for w, m in zip(weights, masks)]
    x = torch.ones(1, weights[0].shape[0], dtype=torch.float64, device=weights[0].device)
    r = _logits(effective, biases, x).sum()
    grads = torch.autograd.grad(r, weights)
    return [(g * w).abs().detach() for g, w in zip(grads, weights)]


def synflow_mask(layers: Layers, sparsity: float, allocation: str = "global", iterations: int = 100) -> list[Tensor]:
    """Iterative SynFlow (Tanaka et al. 2020): at iteration k = 1..n keep a fraction
    (1 - s)^(k / n), rescoring with the current mask; pruned weights score -inf so they stay
    pruned. The last iteration uses `sparsity` itself, so the target count is exact."""
    sparsity = check_sparsity(sparsity)
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise SparsearchError(f"SynFlow iterations must be an integer >= 1, got {iterations!r}")
    masks = [torch.ones_like(w, dtype=torch.bool) for w, _ in layers]
    for k in range(1, iterations + 1):
        step = sparsity if k == iterations else 1.0 - (1.0 - sparsity) ** (k / iterations)
        scores = [s.masked_fill(~m, float("-inf")) for s, m in zip(synflow_scores(layers, masks), masks)]
        masks = mask_from_scores(scores, step, allocation)
    return masks
