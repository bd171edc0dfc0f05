"""Elastic depth of a ResNet-20 super-network (Once-for-All, Cai et al. 2020): each stage keeps
its first `depths[c]` blocks. In the masked layout a dropped block loses every tensor of its
two layers; its second convolution's BatchNorm then outputs zeros (gamma and beta 0), so the
block adds nothing to its shortcut, an identity (a stage's first block, the only one whose
shortcut is not, is always kept), and the block's ReLU of the non-negative stream changes
nothing."""

from __future__ import annotations

import numpy as np

from ..nets.resnet20 import BLOCKS
from ..spaces.elastic import ElasticSpace

LEARNED = 3
"""A resnet20 convolution's learned tensors (weight, gamma, beta); its running statistics are buffers."""


def block_layers(parent) -> list[list[tuple[int, int]]]:
    """Per stage, per block, the indices of the block's two layers in resnet20's layer order: the
    stem, then two layers per block, stage by stage, the classifier last."""
    return [[(1 + 2 * (s * BLOCKS + b), 2 + 2 * (s * BLOCKS + b)) for b in range(BLOCKS)]
            for s in range(len(parent.stages))]


def block_needs(parent, space: ElasticSpace) -> dict[int, tuple[int, int]]:
    """Layer index -> (its stage's configuration dimension, the least depth choice keeping its
    block) for every layer of a block some depth choice drops; empty without elastic depth."""
    out = {}
    for stage, blocks in enumerate(block_layers(parent) if space.stages else []):
        for block, layers in enumerate(blocks):
            need = next((c for c, depth in enumerate(space.depths) if depth > block), len(space.depths))
            if need:
                out.update({layer: (len(space.hidden) + stage, need) for layer in layers})
    return out


def sub_network_cost(parent, space: ElasticSpace, multipliers, config) -> tuple[int, int]:
    """(params, FLOPs) of a configuration's sub-network: the parent's cost of its node mask (`cost`),
    less, for each block elastic depth drops, what its layers keep at the configuration's widths
    (weights, gammas and betas; 2 FLOPs per weight at each output position). Once the parent can
    build itself with fewer blocks, this is that parent's cost of the node mask."""
    cost = parent.cost(space.mask(config))
    dropped = [layer for layer, (dim, need) in multipliers.blocks.items() if config[dim] < need]
    if not dropped:
        return cost.params, cost.flops
    wide = np.array(config)
    wide[len(space.hidden):] = space.largest()[len(space.hidden):]
    kept = multipliers.of(wide[None])
    params = cost.params - sum(int(kept[i][j].sum()) for i in dropped for j in range(LEARNED))
    flops = cost.flops - sum(2 * int(kept[i][0].sum()) * parent.conv_positions[i] for i in dropped)
    return params, flops
