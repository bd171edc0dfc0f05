"""Random controls for weight masks: layer-wise shuffling and iid random scores."""

from __future__ import annotations

import torch
from torch import Tensor

from .patterns import Pattern, from_rows, parse_pattern, rows_view, shuffle_groups


def shuffle_within_layers(mask: list[Tensor], gen: torch.Generator, pattern: str | Pattern | None = None,
                          layout: str = "out_in") -> list[Tensor]:
    """Each layer's mask permuted uniformly at random over its entries, keeping per-layer
    counts: the layer-wise shuffle ablation of Frankle et al. 2021 ("Pruning Neural Networks
    at Initialization: Why Are We Missing the Mark?"). Under a `pattern` (patterns.py) the
    permutation stays within each N:M group, or moves whole blocks among blocks of one shape,
    so the shuffled mask keeps the pattern and every group's count."""
    pattern = parse_pattern(pattern)
    if pattern is not None:
        return [from_rows(shuffle_groups(rows_view(m, layout), pattern, gen), m.shape, layout) for m in mask]
    out = []
    for m in mask:
        perm = torch.randperm(m.numel(), generator=gen).to(m.device)
        out.append(m.reshape(-1)[perm].reshape(m.shape))
    return out


def random_scores(shapes: list[tuple[int, int]], gen: torch.Generator) -> list[Tensor]:
    """iid U(0, 1) scores per weight; with `mask_from_scores` this is random pruning
    (uniform or ERK allocation, Liu et al. 2022)."""
    return [torch.rand(tuple(shape), generator=gen) for shape in shapes]
