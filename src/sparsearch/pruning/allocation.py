"""How many weights each layer keeps at a weight sparsity, and masks that keep the top scores.

Counts follow `torch.nn.utils.prune`: a layer of n weights at sparsity s removes `round(s * n)`
(Python's round, halves to even); global allocation removes `round(s * N)` over all N weights.
ERK is the Erdős–Rényi(-Kernel) allocation of RigL (Evci et al. 2020), as used for random
pruning by Liu et al. 2022; for dense layers ER and ERK coincide.

Under a pattern (patterns.py) the counts change as follows. N:M keeps N of every M weights of
each row in every layer whatever the allocation; at a sparsity below 1 - N/M (an intermediate
round of lottery, gmp or synflow) the allocation's counts hold, but no weight among the N best
of its group is removed, so the final round reaches exactly N:M without bringing back a pruned
weight. Blocks are kept whole: the best-scored blocks whose size is nearest the allocation's
count (per layer, at least one block; or over all layers for "global").
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import SparsearchError
from .patterns import NM, Block, Pattern, block_scores, expand_blocks, from_rows, n_of_m, nearest_prefix, \
    parse_pattern, ranking_key, rows_view

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


def mask_from_scores(scores: list[Tensor], sparsity: float, allocation: str, pattern: str | Pattern | None = None,
                     layout: str = "out_in") -> list[Tensor]:
    """Bool masks (True = kept) keeping the highest scores at `sparsity`.

    "uniform" and "erk" keep `kept_per_layer` weights in each layer; "global" removes
    round(s * N) over all layers together (as `torch.nn.utils.prune.global_unstructured`).
    Ties go to the lower flat index (layers in order, then row-major); NaN scores rank lowest.
    A `pattern` ("2:4", "block4x4"; None or "unstructured": none) groups the weights of layers
    whose weights are laid out as `layout` ("out_in", or an MLP's "in_out"): see the module.
    """
    sparsity = check_sparsity(sparsity)
    _check_allocation(allocation)
    pattern = parse_pattern(pattern)
    if not scores:
        raise SparsearchError("mask_from_scores needs the scores of at least one layer")
    if isinstance(pattern, NM):
        return _n_of_m(scores, sparsity, allocation, pattern, layout)
    if isinstance(pattern, Block):
        return _blocks(scores, sparsity, allocation, pattern, layout)
    flats = [s.detach().reshape(-1).to(torch.float64) for s in scores]
    if allocation == "global":
        total = sum(f.numel() for f in flats)
        keep = _keep_top(torch.cat(flats), total - round(sparsity * total))
        parts = torch.split(keep, [f.numel() for f in flats])
        return [p.reshape(s.shape) for p, s in zip(parts, scores)]
    shapes = [_weight_shape(s) for s in scores]
    counts = kept_per_layer(shapes, sparsity, allocation)
    return [_keep_top(f, k).reshape(s.shape) for f, k, s in zip(flats, counts, scores)]


def _n_of_m(scores: list[Tensor], sparsity: float, allocation: str, pattern: NM, layout: str) -> list[Tensor]:
    """N:M masks at its own sparsity; below it, the allocation's counts without removing any
    weight among the N best of its group (those `protected`)."""
    if sparsity > pattern.sparsity and not pattern.matches(sparsity):
        raise SparsearchError(f'pattern "{pattern}" keeps {pattern.n} of every {pattern.m} weights (sparsity '
                              f"{pattern.sparsity:g}); it cannot prune to sparsity {sparsity:g}")
    shapes = [_weight_shape(s) for s in scores]
    protected = [from_rows(n_of_m(rows_view(ranking_key(s), layout), pattern), s.shape, layout) for s in scores]
    if pattern.matches(sparsity):
        return protected
    flats = [ranking_key(s).reshape(-1) for s in scores]
    if allocation == "global":
        total = sum(f.numel() for f in flats)
        keep = _keep_beyond(torch.cat(flats), torch.cat([p.reshape(-1) for p in protected]),
                            total - round(sparsity * total))
        return [p.reshape(s) for p, s in zip(torch.split(keep, [f.numel() for f in flats]), shapes)]
    counts = kept_per_layer(shapes, sparsity, allocation)
    return [_keep_beyond(f, p.reshape(-1), k).reshape(s) for f, p, k, s in zip(flats, protected, counts, shapes)]


def _keep_beyond(key: Tensor, protected: Tensor, k: int) -> Tensor:
    """Bool mask over flat `key`: every `protected` entry, and the best of the others up to k in all."""
    rest = torch.nonzero(~protected).flatten()
    keep = protected.clone()
    keep[rest[_keep_top(key[rest], k - int(protected.sum()))]] = True
    return keep


def _blocks(scores: list[Tensor], sparsity: float, allocation: str, pattern: Block, layout: str) -> list[Tensor]:
    """Block masks: whole blocks, ranked by their mean score, as near the allocation's count as
    whole blocks come (per layer at least one block; or over all layers for "global")."""
    shapes = [_weight_shape(s) for s in scores]
    views = [rows_view(ranking_key(s), layout) for s in scores]
    pooled = [block_scores(v, pattern) for v in views]
    if allocation == "global":
        total = sum(math.prod(s) for s in shapes)
        keep = nearest_prefix(torch.cat([p.reshape(-1) for p, _ in pooled]), torch.cat([n.reshape(-1) for _, n in pooled]),
                              total - round(sparsity * total), at_least_one=False)
        kept = [k.reshape(p.shape) for k, (p, _) in zip(torch.split(keep, [p.numel() for p, _ in pooled]), pooled)]
    else:
        counts = kept_per_layer(shapes, sparsity, allocation)
        kept = [nearest_prefix(p.reshape(-1), n.reshape(-1), k, at_least_one=True).reshape(p.shape)
                for (p, n), k in zip(pooled, counts)]
    return [from_rows(expand_blocks(k, pattern, v.shape), s, layout) for k, v, s in zip(kept, views, shapes)]


def _weight_shape(score: Tensor) -> tuple[int, ...]:
    if score.dim() < 2:
        raise SparsearchError(f"scores must be one tensor per layer shaped like its weight (2 or more dims), got "
                              f"shape {tuple(score.shape)}")
    return tuple(int(n) for n in score.shape)
