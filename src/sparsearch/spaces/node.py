"""The node space: a mask keeps a subset of each hidden layer's units (structured sparsity).

At node sparsity s every hidden layer of width w loses round(s * w) units (Python's round,
halves to even). The parent compacts a masked network into a smaller dense network that
inherits its weights for the kept units (`Parent.compact`), so all masks at one sparsity share
shapes and can be trained as one population; the parent also says what it costs
(`Parent.cost`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


def kept_units(width: int, sparsity: float) -> int:
    """Units a hidden layer of `width` keeps at node sparsity `sparsity`."""
    return width - round(sparsity * width)


@dataclass(frozen=True)
class NodeMask:
    """Sorted indices of the kept units, one tuple per hidden layer."""

    keep: tuple[tuple[int, ...], ...]

    def to_json(self) -> list[list[int]]:
        return [list(layer) for layer in self.keep]

    def digest(self) -> list[list[int]]:
        """What the trial key records: node masks are small, so the indices themselves."""
        return self.to_json()

    def shape_key(self) -> tuple:
        """Masks with equal kept counts compact to equal shapes and share a population."""
        return ("node", *(len(layer) for layer in self.keep))


def full_mask(hidden: tuple[int, ...]) -> NodeMask:
    """The mask that keeps every unit (the dense parent)."""
    return NodeMask(tuple(tuple(range(width)) for width in hidden))


def sample_mask(hidden: tuple[int, ...], sparsity: float, gen: torch.Generator) -> NodeMask:
    """A uniformly random mask at `sparsity`, drawn from `gen`."""
    keep = []
    for width in hidden:
        chosen = torch.randperm(width, generator=gen)[: kept_units(width, sparsity)]
        keep.append(tuple(sorted(chosen.tolist())))
    return NodeMask(tuple(keep))


def mask_from_unit_scores(scores: list[Tensor], sparsity: float) -> NodeMask:
    """Keep each hidden layer's highest-scoring units (the lower index on ties)."""
    keep = []
    for layer in scores:
        order = torch.sort(-layer, stable=True).indices[: kept_units(len(layer), sparsity)]
        keep.append(tuple(sorted(order.tolist())))
    return NodeMask(tuple(keep))
