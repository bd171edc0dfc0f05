"""Sub-networks of any parent kind in the masked layout (Once-for-All, Cai et al. 2020; BigNAS,
Yu et al. 2020): a configuration's sub-network is the parent's shared tensors times 0/1
multipliers that keep the elements its compacted network keeps, so K sub-networks run as one
population of parent-shaped networks through the kind's own `forward`.

The multipliers come from the parent's `compact` alone, with no code per kind: compacting a
copy of the parent whose every tensor holds its own flat element indices (float64, exact)
shows which elements a node mask keeps. Keeping the first units of each group is monotone and
acts on every group independently, so one compaction per (group, width choice) gives each
element the smallest choice of each group that keeps it (`need`); a configuration keeps the
elements whose every need it meets. Masked channels of a BatchNorm layer lose their weight
rows, gamma and beta, so they output exact zeros and masked equals compacted (running
statistics are buffers: multiplied too, and recalibrated before any evaluation). A dropped
block (elastic depth: a ResNet's or a vit's) loses every tensor of its layers, which makes it
the identity (supernet/depth.py)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..nets.base import Params, rows
from ..spaces.elastic import ElasticSpace
from ..spaces.node import NodeMask
from .depth import block_needs


def element_indices(params: Params) -> Params:
    """The parent's tensors, each holding its own flat element indices (float64, exact)."""
    return [tuple(torch.arange(t.numel(), dtype=torch.float64).view(t.shape) for t in layer) for layer in params]


class Multipliers:
    """Per configuration of `space`, the 0/1 multipliers [K, *shape] of every tensor of the
    unstacked `params` of `parent`, on `device`."""

    def __init__(self, parent, params: Params, space: ElasticSpace, device: str | torch.device = "cpu"):
        self.space, self.device = space, device
        self.shapes = [tuple(t.shape for t in layer) for layer in params]
        probe = element_indices(params)
        never = len(space.fractions)
        full = [tuple(range(size)) for size in space.hidden]
        self.needs: list[list[list[tuple[int, Tensor]]]] = [[[] for _ in layer] for layer in params]
        for group in range(len(space.hidden)):
            need = [[torch.full((t.numel(),), never, dtype=torch.int8) for t in layer] for layer in params]
            for choice in reversed(range(never)):
                keep = [*full[:group], tuple(range(space.width(group, choice))), *full[group + 1:]]
                thin = rows(parent.compact(probe, [NodeMask(tuple(keep))]), 0)
                for layer_need, layer in zip(need, thin):
                    for tensor_need, kept in zip(layer_need, layer):
                        tensor_need[kept.flatten().long()] = choice
            for layer_needs, layer_need in zip(self.needs, need):
                for tensor_needs, tensor_need in zip(layer_needs, layer_need):
                    if tensor_need.any():  # the group restricts this tensor
                        tensor_needs.append((group, tensor_need.to(device)))
        self.blocks = block_needs(parent, space)  # layer -> (configuration dimension, least choice keeping it)

    def of(self, configs) -> Params:
        """The multipliers of `configs` [K, dimensions], float32 [K, *shape] per tensor."""
        configs = torch.as_tensor(np.asarray(configs), dtype=torch.int64, device=self.device)
        out = []
        for i, (shapes, layer_needs) in enumerate(zip(self.shapes, self.needs)):
            block = self.blocks.get(i)
            layer = []
            for shape, needs in zip(shapes, layer_needs):
                keep = torch.ones(len(configs), shape.numel(), dtype=torch.bool, device=self.device)
                for group, need in needs:
                    keep &= configs[:, group, None] >= need
                if block is not None:
                    keep &= configs[:, block[0], None] >= block[1]
                layer.append(keep.float().view(len(configs), *shape))
            out.append(tuple(layer))
        return out


def masked(shared: Params, multipliers: Params) -> Params:
    """The sub-networks of these multipliers in the masked layout, [K, *shape] per tensor,
    differentiable with respect to the shared (unstacked) tensors."""
    return [tuple(t.unsqueeze(0) * m for t, m in zip(layer, ms)) for layer, ms in zip(shared, multipliers)]
