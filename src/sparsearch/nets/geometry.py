"""What every parent kind reports about its own geometry: a mask's `Cost`, and the refusal of
node sparsities that would empty one of its node groups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import SparsearchError
from ..spaces.node import kept_units


@dataclass(frozen=True)
class Cost:
    """What a network costs: node and weight sparsity against the parent, params, FLOPs."""

    node_sparsity: float
    weight_sparsity: float
    params: int
    flops: int


def refuse_empty_groups(groups: Sequence[tuple[str, int]], sparsities: Sequence[float], wider: str) -> None:
    """Refuse the first node sparsity that removes every node of a group, in one line naming the
    group (`groups`: (what its nodes are, e.g. "units of hidden layer 1", width)); `wider` says
    which setting widens the groups."""
    for s in sparsities:
        for name, width in groups:
            if kept_units(width, s) < 1:
                raise SparsearchError(f"search.sparsities: {s} removes all {width} {name}; use a lower sparsity or "
                                      f"{wider}")
