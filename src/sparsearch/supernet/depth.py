"""Elastic depth of a super-network whose parent is made of blocks: a ResNet-20 keeps the first
`depths[c]` blocks of each stage (Once-for-All, Cai et al. 2020), a vit the first `depths[c]`
of its blocks, which form one stage (HAT, Wang et al. 2020: an elastic layer number keeps the
first encoder layers). In the masked layout a dropped block loses every tensor of its layers
(`block_layers`). In a ResNet its second convolution's BatchNorm then outputs zeros (gamma and
beta 0), so the block adds nothing to its shortcut, an identity (a stage's first block, the
only one whose shortcut is not, is always kept), and the block's ReLU of the non-negative
stream changes nothing. In a pre-norm transformer block, h + MHSA(LN(h)) then h + MLP(LN(h)),
both LayerNorms output zeros (gamma and beta 0) and every projection is zero, so both branches
add nothing. Compacted, the sub-network is the parent with fewer blocks (`with_blocks`), its
node groups those of the kept blocks (`kept_groups`)."""

from __future__ import annotations

from ..nets.base import Parent, Params
from ..spaces.elastic import ElasticSpace
from ..spaces.node import NodeMask


def block_needs(parent, space: ElasticSpace) -> dict[int, tuple[int, int]]:
    """Layer index -> (its stage's configuration dimension, the least depth choice keeping its
    block) for every layer of a block some depth choice drops; empty without elastic depth."""
    out = {}
    for stage, blocks in enumerate(parent.block_layers() if space.stages else []):
        for block, layers in enumerate(blocks):
            need = next((c for c, depth in enumerate(space.depths) if depth > block), len(space.depths))
            if need:
                out.update({layer: (len(space.hidden) + stage, need) for layer in layers})
    return out


def sub_network(parent: Parent, space: ElasticSpace, config) -> tuple[Parent, NodeMask]:
    """The parent a configuration's compacted sub-network belongs to (with elastic depth: the
    parent with the kept blocks) and its node mask over that parent's groups."""
    mask, blocks = space.mask(config), space.blocks(config)
    if not blocks:
        return parent, mask
    return parent.with_blocks(blocks), NodeMask(tuple(mask.keep[g] for g in parent.kept_groups(blocks)))


def compacted(parent: Parent, space: ElasticSpace, params: Params, config) -> tuple[Parent, Params]:
    """A configuration's sub-network as a genuinely smaller network: its parent (`sub_network`)
    and its parameters, a population of one, inheriting the unstacked `params`."""
    sub, mask = sub_network(parent, space, config)
    blocks = space.blocks(config)
    return sub, sub.compact(parent.keep_blocks(params, blocks) if blocks else params, [mask])


def sub_network_cost(parent: Parent, space: ElasticSpace, config) -> tuple[int, int]:
    """(params, FLOPs) of a configuration's sub-network: its own parent's cost of its node mask."""
    sub, mask = sub_network(parent, space, config)
    cost = sub.cost(mask)
    return cost.params, cost.flops
