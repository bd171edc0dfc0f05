"""The node space: a mask keeps a subset of each hidden layer's units (structured sparsity).

At node sparsity s every hidden layer of width w loses round(s * w) units (Python's round,
halves to even). A masked network is compacted into a smaller dense network that inherits
the parent's weights for the kept units, so all masks at one sparsity share shapes and can
be trained as one population.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import SparsearchError
from ..nets.mlp import Layers


def kept_units(width: int, sparsity: float) -> int:
    """Units a hidden layer of `width` keeps at node sparsity `sparsity`."""
    return width - round(sparsity * width)


def refuse_empty_groups(groups: Sequence[tuple[str, int]], sparsities: Sequence[float], wider: str) -> None:
    """Refuse the first node sparsity that removes every node of a group, in one line naming the
    group (`groups`: (what its nodes are, e.g. "units of hidden layer 1", width)); `wider` says
    which setting widens the groups."""
    for s in sparsities:
        for name, width in groups:
            if kept_units(width, s) < 1:
                raise SparsearchError(f"search.sparsities: {s} removes all {width} {name}; use a lower sparsity or "
                                      f"{wider}")


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

    def cost(self, parent_widths: tuple[int, ...]) -> Cost:
        return cost(parent_widths, self)


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


def compact(parent: Layers, masks: list[NodeMask]) -> Layers:
    """Stack the compacted networks of `masks` over one unstacked parent: weights [K, in', out']."""
    kept = [torch.tensor([m.keep[i] for m in masks], dtype=torch.long) for i in range(len(parent) - 1)]
    layers = []
    for i, (weight, bias) in enumerate(parent):
        rows = kept[i - 1] if i > 0 else None
        cols = kept[i] if i < len(kept) else None
        w = weight.expand(len(masks), *weight.shape) if rows is None else weight[rows]
        b = bias.expand(len(masks), *bias.shape)
        if cols is not None:
            w = torch.gather(w, 2, cols.unsqueeze(1).expand(-1, w.shape[1], -1))
            b = torch.gather(b, 1, cols)
        layers.append((w.contiguous(), b.contiguous()))
    return layers


@dataclass(frozen=True)
class Cost:
    """What a network costs: node and weight sparsity against the parent, params, FLOPs."""

    node_sparsity: float
    weight_sparsity: float
    params: int
    flops: int


def weights_and_flops(widths: tuple[int, ...]) -> tuple[int, int, int]:
    """(weights, params, forward FLOPs per example) of a dense MLP with these widths.

    FLOPs count each multiply-add of the weight matrices as 2 (bias adds and ReLUs are not
    counted)."""
    weights = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    biases = sum(widths[1:])
    return weights, weights + biases, 2 * weights


def cost(parent_widths: tuple[int, ...], mask: NodeMask) -> Cost:
    """Cost of the compacted network of `mask` relative to the parent."""
    widths = (parent_widths[0], *(len(layer) for layer in mask.keep), parent_widths[-1])
    parent_weights, _, _ = weights_and_flops(parent_widths)
    weights, params, flops = weights_and_flops(widths)
    hidden_total = sum(parent_widths[1:-1])
    removed = hidden_total - sum(widths[1:-1])
    return Cost(removed / hidden_total, 1 - weights / parent_weights, params, flops)


def mask_from_unit_scores(scores: list[Tensor], sparsity: float) -> NodeMask:
    """Keep each hidden layer's highest-scoring units (the lower index on ties)."""
    keep = []
    for layer in scores:
        order = torch.sort(-layer, stable=True).indices[: kept_units(len(layer), sparsity)]
        keep.append(tuple(sorted(order.tolist())))
    return NodeMask(tuple(keep))
