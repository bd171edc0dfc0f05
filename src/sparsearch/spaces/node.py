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


NODE_ALLOCATIONS = ("uniform", "global")


def mask_from_unit_scores(scores: list[Tensor], sparsity: float, allocation: str = "uniform") -> NodeMask:
    """Keep the highest-scoring units (the lower index on ties): `uniform`, each group's share
    at `sparsity`; `global`, as many units in all, ranked across groups, each group keeping at
    least its best unit (so none is emptied)."""
    if allocation == "uniform":
        return NodeMask(tuple(tuple(sorted(_ranked(layer)[: kept_units(len(layer), sparsity)].tolist()))
                              for layer in scores))
    if allocation != "global":
        raise ValueError(f"node allocation must be one of {NODE_ALLOCATIONS}, got {allocation!r}")
    best = [int(_ranked(layer)[0]) for layer in scores]
    flat = torch.cat([layer.double().nan_to_num(nan=-torch.inf) for layer in scores])
    offsets = [0]
    for layer in scores:
        offsets.append(offsets[-1] + len(layer))
    flat[[o + b for o, b in zip(offsets, best)]] = torch.inf
    total = sum(kept_units(len(layer), sparsity) for layer in scores)
    chosen = set(_ranked(flat)[:total].tolist())
    return NodeMask(tuple(tuple(u - start for u in range(start, end) if u in chosen)
                          for start, end in zip(offsets, offsets[1:])))


def _ranked(scores: Tensor) -> Tensor:
    """Indices from the highest score down, the lower index first on ties; NaN last."""
    return torch.sort(-scores.nan_to_num(nan=-torch.inf), stable=True).indices
