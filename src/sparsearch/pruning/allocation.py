"""How many weights each layer keeps at a weight sparsity, and masks that keep the top scores.

Counts follow `torch.nn.utils.prune`: a layer of n weights at sparsity s removes `round(s * n)`
(Python's round, halves to even); global allocation removes `round(s * N)` over all N weights.
ERK is the Erdős–Rényi(-Kernel) allocation of RigL (Evci et al. 2020), as used for random
pruning by Liu et al. 2022; for dense layers ER and ERK coincide.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import SparsearchError

ALLOCATIONS = ("uniform", "erk", "global")


def check_sparsity(sparsity: float) -> float:
    """`sparsity` as a float, or SparsearchError unless 0 <= sparsity < 1."""
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)) or not 0 <= sparsity < 1:
        raise SparsearchError(f"weight sparsity must be a number in [0, 1), got {sparsity!r}")
    return float(sparsity)


def _check_allocation(allocation: str, allowed: tuple[str, ...] = ALLOCATIONS) -> None:
    if allocation not in allowed:
        raise SparsearchError(f"unknown allocation {allocation!r}; use one of: {', '.join(allowed)}")


def erk_densities(shapes: list[tuple[int, ...]], density: float) -> list[float]:
    """Per-layer densities (kept fractions) under Erdős–Rényi-Kernel, RigL (Evci et al. 2020).

    Layer l's density is eps * sum(shape_l) / prod(shape_l): for a dense layer [in, out]
    eps * (n_in + n_out) / (n_in * n_out), for a convolution [out, in, h, w] the kernel-aware
    eps * (n_out + n_in + h + w) / (n_out * n_in * h * w). eps is chosen so the layers keep
    `density * N` weights in total; a layer whose density would exceed 1 is made dense and eps
    is recomputed over the others, until no layer exceeds 1.
    """
    if isinstance(density, bool) or not isinstance(density, (int, float)) or not 0 < density <= 1:
        raise SparsearchError(f"ERK density must be a number in (0, 1], got {density!r}")
    sizes = [math.prod(shape) for shape in shapes]
    if not sizes or min(sizes) <= 0 or min(len(shape) for shape in shapes) < 2:
        raise SparsearchError(f"ERK needs at least one layer and positive layer shapes, got {shapes!r}")
    raw = [sum(shape) / math.prod(shape) for shape in shapes]
    target = density * sum(sizes)
    dense: set[int] = set()
    while True:
        free = [i for i in range(len(shapes)) if i not in dense]
        if not free:
            return [1.0] * len(shapes)
        eps = (target - sum(sizes[i] for i in dense)) / sum(raw[i] * sizes[i] for i in free)
        over = {i for i in free if eps * raw[i] > 1}
        if not over:
            return [1.0 if i in dense else min(1.0, eps * raw[i]) for i in range(len(shapes))]
        dense |= over


def kept_per_layer(shapes: list[tuple[int, ...]], sparsity: float, allocation: str) -> list[int]:
    """Weights each layer keeps: "uniform" keeps n - round(s * n) per layer (torch.nn.utils.prune);
    "erk" keeps round(d_l * n_l), at least 1, with d_l from `erk_densities(shapes, 1 - s)`."""
    sparsity = check_sparsity(sparsity)
    if allocation == "global":
        raise SparsearchError('allocation "global" fixes only the total count; use "uniform" or "erk" for per-layer counts')
    _check_allocation(allocation, ("uniform", "erk"))
    sizes = [math.prod(shape) for shape in shapes]
    if allocation == "uniform":
        return [n - round(sparsity * n) for n in sizes]
    densities = erk_densities(shapes, 1.0 - sparsity)
    return [min(n, max(1, round(d * n))) for d, n in zip(densities, sizes)]


def _keep_top(scores: Tensor, k: int) -> Tensor:
    """Bool mask over flat `scores` keeping the k highest; NaN counts as -inf; among equal
    scores the lower index is kept (what a stable sort on -score keeps). Found through the
    k-th largest score (`topk`) rather than a full sort: several times faster, same mask."""
    key = torch.where(torch.isnan(scores), torch.full_like(scores, float("-inf")), scores)
    if k <= 0 or k >= key.numel():
        return torch.full((key.numel(),), k > 0, dtype=torch.bool, device=scores.device)
    threshold = torch.topk(key, k, sorted=False).values.min()
    keep = key > threshold
    tied = torch.nonzero(key == threshold).flatten()[: k - int(keep.sum())]
    keep[tied] = True
    return keep


def mask_from_scores(scores: list[Tensor], sparsity: float, allocation: str) -> list[Tensor]:
    """Bool masks (True = kept) keeping the highest scores at `sparsity`.

    "uniform" and "erk" keep `kept_per_layer` weights in each layer; "global" removes
    round(s * N) over all layers together (as `torch.nn.utils.prune.global_unstructured`).
    Ties go to the lower flat index (layers in order, then row-major); NaN scores rank lowest.
    """
    sparsity = check_sparsity(sparsity)
    _check_allocation(allocation)
    if not scores:
        raise SparsearchError("mask_from_scores needs the scores of at least one layer")
    flats = [s.detach().reshape(-1).to(torch.float64) for s in scores]
    if allocation == "global":
        total = sum(f.numel() for f in flats)
        keep = _keep_top(torch.cat(flats), total - round(sparsity * total))
        parts = torch.split(keep, [f.numel() for f in flats])
        return [p.reshape(s.shape) for p, s in zip(parts, scores)]
    shapes = [_weight_shape(s) for s in scores]
    counts = kept_per_layer(shapes, sparsity, allocation)
    return [_keep_top(f, k).reshape(s.shape) for f, k, s in zip(flats, counts, scores)]


def _weight_shape(score: Tensor) -> tuple[int, ...]:
    if score.dim() < 2:
        raise SparsearchError(f"scores must be one tensor per layer shaped like its weight (2 or more dims), got "
                              f"shape {tuple(score.shape)}")
    return tuple(int(n) for n in score.shape)
