"""Channel sorting by importance (Once-for-All, Cai et al. 2020, section 3.2: after training a
stage of progressive shrinking, the channels are reorganized by the L1 norm of their weights,
so that the first channels every narrower sub-network keeps are the most important). With
`[supernet] sort_channels`, after every epoch each node group's units are permuted in place
into descending order of their incoming weights' L1 norm (`Parent.unit_scores`), a permutation
that leaves the full network's function unchanged; the optimizer's state moves with them.

Which elements of which tensor belong to which unit comes from the parent's `compact` alone,
as the masked layout's multipliers do (supernet/masking.py): compacting a copy of the parent
whose tensors hold their own element indices to one unit of a group keeps that unit's elements
and every element the group does not touch."""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import SparsearchError
from ..nets.base import Params, rows
from ..spaces.elastic import ElasticSpace
from ..spaces.node import NodeMask
from .masking import element_indices


class UnitSorter:
    """Per node group and tensor of the unstacked `params` of `parent`, the flat positions [w, n]
    of each unit's elements (None: the group does not touch that tensor)."""

    def __init__(self, parent, params: Params, space: ElasticSpace):
        self.parent = parent
        probe = element_indices(params)
        full = [tuple(range(size)) for size in space.hidden]
        self.positions: list[list[list[Tensor | None]]] = []
        for group, width in enumerate(space.hidden):
            kept = [[torch.zeros(width, t.numel(), dtype=torch.bool) for t in layer] for layer in params]
            for unit in range(width):
                keep = NodeMask(tuple([*full[:group], (unit,), *full[group + 1:]]))
                for layer_kept, layer in zip(kept, rows(parent.compact(probe, [keep]), 0)):
                    for tensor_kept, thin in zip(layer_kept, layer):
                        tensor_kept[unit, thin.flatten().long()] = True
            self.positions.append([[self._unit_positions(k, group) for k in layer] for layer in kept])

    @staticmethod
    def _unit_positions(kept: Tensor, group: int) -> Tensor | None:
        """[w, n] positions of each unit's elements, from which units keep each element."""
        count = kept.sum(0)
        if bool((count == kept.shape[0]).all()):
            return None
        if not bool(((count == 1) | (count == kept.shape[0])).all()) or len(set(kept[:, count == 1].sum(1).tolist())) != 1:
            raise SparsearchError(f"supernet.sort_channels: node group {group + 1} of this parent ties elements of "
                                  f"several of its units together, so its units cannot be reordered; set "
                                  f"sort_channels = false")
        own = kept & (count == 1)
        return torch.stack([row.nonzero().flatten() for row in own])

    @torch.no_grad()
    def sort(self, shared: Params, optimizer: torch.optim.Optimizer) -> None:
        """Permute every group's units of the shared tensors (and their optimizer state) into
        descending importance."""
        scores = self.parent.unit_scores([layer[0].detach().abs().cpu() for layer in shared])
        for score, group in zip(scores, self.positions):
            order = torch.argsort(-score, stable=True)
            for layer, layer_positions in zip(shared, group):
                for t, where in zip(layer, layer_positions):
                    if where is None:
                        continue
                    state = optimizer.state.get(t, {})
                    for value in [t, *(v for v in state.values() if torch.is_tensor(v) and v.shape == t.shape)]:
                        flat = value.view(-1)
                        at = where.to(flat.device)
                        flat[at] = flat[at[order.to(flat.device)]]
