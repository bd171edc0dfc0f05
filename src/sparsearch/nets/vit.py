"""`vit`: a small vision transformer (Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words:
Transformers for Image Recognition at Scale", section 3.1) as a population module.

An image [C, H, W] is cut into patch x patch tiles, a signal [C, L] (flat features: one channel)
into runs of `patch` samples; each tile, flattened channel-major as `nn.Conv*d` flattens its
kernel, is embedded by one linear map, a learned class token is prepended (`pool = "cls"`) and a
learned position embedding added. `depth` pre-norm blocks follow, each
`h + MHSA(LN(h))` then `h + MLP(LN(h))` (MLP: Linear, exact GELU, Linear; `round(dim *
mlp_ratio)` hidden units); attention has `heads` heads of dim / heads each, softmax(q k^T /
sqrt(dim / heads)) v. The class token's output (or the mean of the tokens, `pool = "mean"`)
goes through a final LayerNorm and the linear head. LayerNorm's eps is PyTorch's 1e-5; no
dropout. Initialisation after the paper's code base as timm writes it: every linear weight
truncated normal (std 0.02, cut at 2 std), biases 0, LayerNorm 1 and 0, the position embedding
truncated normal (std 0.02), the class token 0.

Layer tuples (nets/base.py), weights [out, in] as `nn.Linear`'s; element 0 is the maskable
weight, and every linear layer is one: the patch embedding (weight, bias, position embedding,
[class token]); per block the attention's input projection (qkv weight [3 * heads * head_dim,
dim] with q, k, v stacked as in `nn.MultiheadAttention`'s `in_proj_weight`, bias, the LayerNorm
before it: gamma, beta), its output projection (weight, bias), the MLP's first layer (weight,
bias, the LayerNorm before it) and its second (weight, bias); last the head (weight, bias, the
final LayerNorm). A population of P networks runs as one batched program: every linear map one
`baddbmm` over the networks, attention two `bmm`s over networks x examples x heads, LayerNorm
without affine then each network's own gamma and beta.

Node groups, per block: its attention heads (a head owns its q, k and v rows of the input
projection and its columns of the output projection), then its MLP's hidden units (a unit: its
row of the first layer, its column of the second), so `widths` = (features, heads, units,
heads, units, ..., classes). A node mask compacts to a transformer with fewer heads and
narrower MLPs; the residual width `dim` stays. A node's score (`unit_scores`) is the sum of its
incoming weights' scores, as every parent kind counts: a head's q, k and v rows, a unit's row
of the first MLP layer.

Elastic depth (HAT, Wang et al. 2020, "HAT: Hardware-Aware Transformers": an
elastic layer number keeps the first d encoder layers): the blocks form one stage (`blocks` =
(depth,)), and a vit of depth d is the sub-network keeping the first d (`with_blocks`,
`keep_blocks`). A block whose every tensor is zero (weights, biases and the LayerNorms'
gammas and betas) is exactly the identity: each LayerNorm then outputs zeros, q, k and v are
zero, so attention averages zero values, the output projection adds its zero bias, and the MLP
outputs GELU(0) = 0 through a zero layer; both residual branches add nothing to h.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import Tensor, nn
import torch.nn.utils.prune  # noqa: F401  (nn.utils.prune)

from ..errors import SparsearchError
from ..spaces.node import NodeMask
from ..spaces.weight import WeightMask
from .base import Params, population_size, stacked
from .geometry import Cost, refuse_empty_groups
from .settings import kind_settings

FLOAT = 4
EPS = 1e-5
INIT_STD = 0.02
PATCH = {1: 4, 2: 2}
"""The default patch by the data's spatial dimensions: 4 samples of a signal (MNIST-1D's 40 give
10 tokens), 2 x 2 pixels of an image (digits' 8 x 8 give 16)."""


class ViTSettings(BaseModel):
    """vit's own `[parent]` settings (nets/settings.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
    patch: int | None = Field(None, ge=1, description="vit: a patch's side in samples or pixels (none: 4 for signals, "
                              "2 for images)")
    dim: int = Field(64, ge=1, description="vit: the residual width (each token's embedding)")
    depth: int = Field(2, ge=1, description="vit: transformer blocks")
    heads: int = Field(4, ge=1, description="vit: attention heads per block, of dim / heads each")
    mlp_ratio: float = Field(2.0, gt=0, description="vit: each block's MLP has round(dim * mlp_ratio) hidden units")
    pool: Literal["cls", "mean"] = Field("cls", description="vit: the class token's output, or the mean of the tokens")

    @model_validator(mode="after")
    def _fits(self):
        if self.dim % self.heads:
            raise ValueError(f"dim must be a multiple of heads (each head has dim / heads dimensions), got dim = "
                             f"{self.dim}, heads = {self.heads}")
        if round(self.dim * self.mlp_ratio) < 1:
            raise ValueError(f"dim * mlp_ratio must round to at least 1 hidden unit, got dim = {self.dim}, "
                             f"mlp_ratio = {self.mlp_ratio}")
        return self

    @property
    def hidden(self) -> int:
        return round(self.dim * self.mlp_ratio)


@dataclass(frozen=True)
class ViT:
    """A vision transformer for signals [channels, length] or images [channels, height, width]."""

    input_shape: tuple[int, ...]
    patch: int
    dim: int
    depth: int
    heads: int
    hidden: int  # MLP hidden units per block
    pool: Literal["cls", "mean"]
    n_classes: int
    settings: dict = field(default_factory=dict)  # the `[parent]` settings that built it (spec)
    kind: str = "vit"

    def __post_init__(self):
        if any(n % self.patch for n in self.input_shape[1:]):
            raise SparsearchError(f"parent.patch: {self.patch} does not divide the data's examples of shape "
                                  f"{list(self.input_shape)} into whole patches; use a divisor of "
                                  f"{', '.join(str(n) for n in self.input_shape[1:])}")

    # --- elastic depth (Wang et al. 2020, HAT) ------------------------------------------------------------------

    @property
    def blocks(self) -> tuple[int]:
        """Blocks per stage: the transformer's blocks are one stage."""
        return (self.depth,)

    def with_blocks(self, blocks: tuple[int, ...]) -> ViT:
        """This parent with its first `blocks[0]` blocks, at most its own."""
        blocks = tuple(blocks)
        if len(blocks) != 1 or not 1 <= blocks[0] <= self.depth:
            raise SparsearchError(f"blocks: a sub-network of this vit keeps 1 to {self.depth} blocks (a count for its "
                                  f"one stage), got {list(blocks)}")
        return replace(self, depth=blocks[0], settings={**self.settings, "depth": blocks[0]})

    def keep_blocks(self, params: Params, blocks: tuple[int, ...]) -> Params:
        """The parameters (stacked or not, as `params`) of `self.with_blocks(blocks)` (refused as
        it refuses): the embedding, the first `blocks[0]` blocks and the head, the very tensors
        of `params`, so gradients reach them."""
        depth = self.with_blocks(blocks).depth
        return [*params[: 1 + 4 * depth], params[-1]]

    def block_layers(self) -> list[list[tuple[int, int, int, int]]]:
        """Per stage (one), per block, the layer indices of its attention's input and output
        projections and its MLP's two layers: zeroing all their tensors makes the block the
        identity (module docstring)."""
        return [[tuple(range(1 + 4 * b, 5 + 4 * b)) for b in range(self.depth)]]

    def kept_groups(self, blocks: tuple[int, ...]) -> list[int]:
        """The indices in `groups` of the node groups `with_blocks(blocks)` has, in its order:
        the heads and MLP units of each kept block."""
        return list(range(2 * self.with_blocks(blocks).depth))

    # --- shapes -------------------------------------------------------------------------------------------------

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    @property
    def patches(self) -> int:
        """Tokens cut from one example."""
        return math.prod(n // self.patch for n in self.input_shape[1:])

    @property
    def patch_features(self) -> int:
        return self.input_shape[0] * self.patch ** (len(self.input_shape) - 1)

    @property
    def sequence(self) -> int:
        """Tokens every block reads: the patches and, with `pool = "cls"`, the class token."""
        return self.patches + (self.pool == "cls")

    @property
    def groups(self) -> tuple[int, ...]:
        return (self.heads, self.hidden) * self.depth

    @property
    def widths(self) -> tuple[int, ...]:
        return (math.prod(self.input_shape), *self.groups, self.n_classes)

    @property
    def weight_shapes(self) -> tuple[tuple[int, ...], ...]:
        return self._weight_shapes(self.groups)

    def _weight_shapes(self, groups: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
        """Each layer's weight shape when the node groups have these sizes."""
        shapes = [(self.dim, self.patch_features)]
        for heads, hidden in zip(groups[0::2], groups[1::2]):
            inner = heads * self.head_dim
            shapes += [(3 * inner, self.dim), (self.dim, inner), (hidden, self.dim), (self.dim, hidden)]
        return (*shapes, (self.n_classes, self.dim))

    def spec(self) -> dict:
        return {"kind": self.kind, "input": list(self.input_shape), "classes": self.n_classes,
                "settings": self.settings}

    # --- parameters and forward ---------------------------------------------------------------------------------

    def init(self, seed: int) -> Params:
        gen = torch.Generator().manual_seed(seed)

        def normal(*shape: int) -> Tensor:
            t = torch.empty(shape)
            return torch.nn.init.trunc_normal_(t, 0.0, INIT_STD, -2 * INIT_STD, 2 * INIT_STD, generator=gen)

        ones, zeros = torch.ones(self.dim), torch.zeros(self.dim)
        shapes = self.weight_shapes
        embed = (normal(*shapes[0]), zeros.clone(), normal(self.sequence, self.dim),
                 *((zeros.clone(),) if self.pool == "cls" else ()))
        layers = [embed]
        for i in range(self.depth):
            qkv, proj, fc1, fc2 = shapes[1 + 4 * i : 5 + 4 * i]
            layers += [(normal(*qkv), torch.zeros(qkv[0]), ones.clone(), zeros.clone()),
                       (normal(*proj), zeros.clone()),
                       (normal(*fc1), torch.zeros(fc1[0]), ones.clone(), zeros.clone()),
                       (normal(*fc2), zeros.clone())]
        return [*layers, (normal(*shapes[-1]), torch.zeros(self.n_classes), ones.clone(), zeros.clone())]

    def forward(self, params: Params, x: Tensor, train: bool = False) -> Tensor:
        population, batch = population_size(params), x.shape[-2]
        w, b, position, *cls = params[0]
        tiles = patches(x, self.input_shape, self.patch).reshape(-1, batch * self.patches, self.patch_features)
        h = torch.baddbmm(b.unsqueeze(1), tiles.expand(population, -1, -1), w.transpose(1, 2))
        h = h.view(population, batch, self.patches, self.dim)
        if cls:
            h = torch.cat([cls[0].view(population, 1, 1, self.dim).expand(-1, batch, -1, -1), h], 2)
        h = h + position.unsqueeze(1)
        for i in range(self.depth):
            qkv, proj, fc1, fc2 = params[1 + 4 * i : 5 + 4 * i]
            h = h + linear(self._attention(layer_norm(h, qkv[2], qkv[3]), qkv[:2]), proj)
            h = h + linear(F.gelu(linear(layer_norm(h, fc1[2], fc1[3]), fc1[:2])), fc2)
        w, b, gamma, beta = params[-1]
        pooled = h[:, :, 0] if self.pool == "cls" else h.mean(2)
        return torch.baddbmm(b.unsqueeze(1), layer_norm(pooled, gamma, beta), w.transpose(1, 2))

    def _attention(self, h: Tensor, qkv: tuple[Tensor, Tensor]) -> Tensor:
        """Every head's softmax(q k^T / sqrt(head_dim)) v of tokens h [P, B, T, dim], as two
        `bmm`s over networks x examples x heads: [P, B, T, heads * head_dim]."""
        population, batch, tokens, _ = h.shape
        heads = qkv[0].shape[1] // (3 * self.head_dim)
        q, k, v = (linear(h, qkv).view(population, batch, tokens, 3, heads, self.head_dim)
                   .permute(3, 0, 1, 4, 2, 5).reshape(3, -1, tokens, self.head_dim))
        weights = torch.bmm(q * self.head_dim ** -0.5, k.transpose(1, 2)).softmax(-1)
        out = torch.bmm(weights, v).view(population, batch, heads, tokens, self.head_dim)
        return out.transpose(2, 3).reshape(population, batch, tokens, heads * self.head_dim)

    # --- the node space -----------------------------------------------------------------------------------------

    def compact(self, params: Params, masks: list[NodeMask]) -> Params:
        return stacked([self._thin(params, m.keep) for m in masks])

    def _thin(self, params: Params, keep: tuple[tuple[int, ...], ...]) -> Params:
        """One unstacked network keeping the heads and MLP units `keep` of each block."""
        layers = [params[0]]
        inner = self.heads * self.head_dim
        for i in range(self.depth):
            qkv, proj, fc1, fc2 = params[1 + 4 * i : 5 + 4 * i]
            device = qkv[0].device
            columns = (torch.tensor(keep[2 * i]).unsqueeze(1) * self.head_dim + torch.arange(self.head_dim)).flatten()
            rows = torch.cat([part * inner + columns for part in range(3)]).to(device)
            columns, units = columns.to(device), torch.tensor(keep[2 * i + 1], device=device)
            layers += [(qkv[0][rows], qkv[1][rows], *qkv[2:]), (proj[0][:, columns], proj[1]),
                       (fc1[0][units], fc1[1][units], *fc1[2:]), (fc2[0][:, units], fc2[1])]
        layers.append(params[-1])
        return [tuple(t.contiguous() for t in layer) for layer in layers]

    def unit_scores(self, weight_scores: list[Tensor]) -> list[Tensor]:
        """A head's score: the sum of its q, k and v rows' scores; an MLP unit's: its first-layer row's."""
        out = []
        for i in range(self.depth):
            qkv, fc1 = weight_scores[1 + 4 * i], weight_scores[3 + 4 * i]
            out += [qkv.reshape(3, -1, self.head_dim, qkv.shape[-1]).sum((0, 2, 3)), fc1.flatten(1).sum(1)]
        return out

    def check_node_sparsities(self, sparsities: list[float]) -> None:
        refuse_emptied(self.depth, self.heads, self.hidden, sparsities)

    # --- costs --------------------------------------------------------------------------------------------------

    def footprint(self, params: Params, batch: int) -> tuple[int, int]:
        """Parameters, gradients and two optimizer buffers, and twice (forward, backward) every
        activation of an example: the patches and their embedding; per block both LayerNorms,
        q k v, the attention scores and their softmax, the heads' output, the projection, the
        MLP's hidden units before and after GELU, its output and both residual sums; the pooled
        token, its LayerNorm and the logits."""
        n_params = sum(t[0].numel() for layer in params for t in layer)
        tokens, dim = self.sequence, self.dim
        activations = [self.patches * self.patch_features, tokens * dim]
        for i in range(self.depth):
            inner, hidden = params[2 + 4 * i][0].shape[2], params[3 + 4 * i][0].shape[1]
            scores = inner // self.head_dim * tokens * tokens
            activations += [tokens * dim, 3 * tokens * inner, scores, scores, tokens * inner, tokens * dim,
                            tokens * dim, tokens * dim, tokens * hidden, tokens * hidden, tokens * dim, tokens * dim]
        activations += [dim, dim, self.n_classes]
        return FLOAT * (4 * n_params + 2 * batch * sum(activations)), max(activations)

    def cost(self, mask) -> Cost:
        """Params = weights + biases, LayerNorms' gammas and betas, the position embedding and
        the class token. FLOPs per example = 2 per multiply-add: of each linear layer at every
        position it is applied at (the embedding at each patch, the blocks' layers at every
        token, the head once), and of attention's two products, q k^T and the scores times v,
        each tokens^2 x heads x head_dim multiply-adds per block (at the heads kept by a node
        mask; a weight mask removes no head). LayerNorm, softmax, GELU and the residual sums
        are not counted."""
        parent_weights = sum(math.prod(s) for s in self.weight_shapes)
        if isinstance(mask, WeightMask):
            return self._weight_cost(mask, parent_weights)
        groups = tuple(len(k) for k in mask.keep)
        shapes = self._weight_shapes(groups)
        weights = sum(math.prod(s) for s in shapes)
        total = sum(self.groups)
        return Cost((total - sum(groups)) / total, 1 - weights / parent_weights, weights + self._other_params(shapes),
                    self._flops([math.prod(s) for s in shapes], groups[0::2]))

    def _weight_cost(self, mask: WeightMask, parent_weights: int) -> Cost:
        """Weight sparsity over all weights; node sparsity counts dead nodes: a head whose v rows
        keep no weight (its output is then a constant, its v bias) or whose output-projection
        columns keep none, a unit whose first-layer row or second-layer column keeps none;
        params = kept weights + every other parameter."""
        dead = 0
        for i in range(self.depth):
            qkv, proj, fc1, fc2 = mask.layers[1 + 4 * i : 5 + 4 * i]
            v = qkv.view(3, self.heads, -1)[2].any(1)
            written = proj.view(self.dim, self.heads, self.head_dim).any(0).any(1)
            dead += int((~(v & written)).sum()) + int((~(fc1.any(1) & fc2.any(0))).sum())
        kept = mask.kept()
        return Cost(dead / sum(self.groups), 1 - sum(kept) / parent_weights,
                    sum(kept) + self._other_params(self.weight_shapes), self._flops(kept, self.groups[0::2]))

    def _other_params(self, shapes: tuple[tuple[int, ...], ...]) -> int:
        """Biases (one per weight row), LayerNorms (two per block and the final one), the
        position embedding and the class token."""
        norms = 2 * self.depth + 1
        return (sum(s[0] for s in shapes) + 2 * self.dim * norms + self.sequence * self.dim
                + (self.dim if self.pool == "cls" else 0))

    def _flops(self, weights_per_layer: list[int], heads: tuple[int, ...]) -> int:
        tokens = self.sequence
        positions = [self.patches, *[tokens] * (4 * self.depth), 1]
        attention = sum(2 * tokens * tokens * h * self.head_dim for h in heads)
        return 2 * (sum(w * p for w, p in zip(weights_per_layer, positions)) + attention)

    # --- export -------------------------------------------------------------------------------------------------

    def _names(self) -> list[tuple[str, ...]]:
        """Each layer's tensors' names in `ViTModule`'s state dict."""
        names = [("embed.weight", "embed.bias", "pos_embed", *(("cls_token",) if self.pool == "cls" else ()))]
        for i in range(self.depth):
            at = f"blocks.{i}"
            names += [(f"{at}.attn.qkv.weight", f"{at}.attn.qkv.bias", f"{at}.norm1.weight", f"{at}.norm1.bias"),
                      (f"{at}.attn.proj.weight", f"{at}.attn.proj.bias"),
                      (f"{at}.mlp.fc1.weight", f"{at}.mlp.fc1.bias", f"{at}.norm2.weight", f"{at}.norm2.bias"),
                      (f"{at}.mlp.fc2.weight", f"{at}.mlp.fc2.bias")]
        return [*names, ("head.weight", "head.bias", "norm.weight", "norm.bias")]

    def state_dict(self, params: Params) -> dict[str, Tensor]:
        return {name: t.contiguous() for names, layer in zip(self._names(), params) for name, t in zip(names, layer)}

    def from_state_dict(self, state: dict[str, Tensor]) -> Params:
        return [tuple(state[name] for name in names) for names in self._names()]

    def module(self, params: Params, weight_mask=None) -> nn.Module:
        """A `ViTModule` at the heads and MLP widths of `params`; it reads flat features [B, F]."""
        blocks = [(params[1 + 4 * i][0].shape[0] // (3 * self.head_dim), params[3 + 4 * i][0].shape[0])
                  for i in range(self.depth)]
        module = ViTModule(self.input_shape, self.patch, self.dim, self.head_dim, blocks, self.n_classes, self.pool)
        module.load_state_dict(self.state_dict(params))
        if weight_mask is not None:
            for layer, keep in zip(module.linears(), weight_mask.layers):
                nn.utils.prune.custom_from_mask(layer, "weight", keep.to(layer.weight.dtype))
        return module


def refuse_emptied(depth: int, heads: int, hidden: int, sparsities: list[float]) -> None:
    """Refuse a node sparsity that removes every head, or every MLP unit, of a block."""
    blocks = range(1, depth + 1)
    refuse_empty_groups([(f"attention heads of vit's block {b}", heads) for b in blocks], sparsities,
                        "more parent.heads")
    refuse_empty_groups([(f"MLP units of vit's block {b}", hidden) for b in blocks], sparsities,
                        "a larger parent.mlp_ratio")


def patches(x: Tensor, shape: tuple[int, ...], patch: int) -> Tensor:
    """Flat examples x [..., F] of `shape` ([C, L] or [C, H, W]) as their patches [..., tokens,
    C * patch^dims], tokens in row-major order, each flattened channel-major (as `nn.Conv*d`
    flattens a kernel)."""
    lead, (channels, *space) = x.shape[:-1], shape
    n = len(lead)
    grid = [size // patch for size in space]
    x = x.reshape(*lead, channels, *(part for g in grid for part in (g, patch)))
    order = (n + 1, n, n + 2) if len(space) == 1 else (n + 1, n + 3, n, n + 2, n + 4)
    return x.permute(*range(n), *order).reshape(*lead, math.prod(grid), -1)


def linear(h: Tensor, layer: tuple[Tensor, ...]) -> Tensor:
    """Each network's `nn.Linear` (weight [P, out, in], bias [P, out]) of h [P, ..., in]."""
    w, b = layer[:2]
    out = torch.baddbmm(b.unsqueeze(1), h.reshape(h.shape[0], -1, h.shape[-1]), w.transpose(1, 2))
    return out.view(*h.shape[:-1], w.shape[1])


def layer_norm(h: Tensor, gamma: Tensor, beta: Tensor) -> Tensor:
    """Each network's LayerNorm over the last axis of h [P, ..., dim], its own gamma and beta [P, dim]."""
    shape = (h.shape[0], *[1] * (h.dim() - 2), h.shape[-1])
    return F.layer_norm(h, h.shape[-1:], eps=EPS) * gamma.view(shape) + beta.view(shape)


class Attention(nn.Module):
    """Multi-head self-attention with `heads` heads of `head_dim` (their concatenation may be
    narrower than the residual width, as in a compacted network)."""

    def __init__(self, dim: int, heads: int, head_dim: int):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.qkv = nn.Linear(dim, 3 * heads * head_dim)
        self.proj = nn.Linear(heads * head_dim, dim)

    def forward(self, h: Tensor) -> Tensor:
        batch, tokens = h.shape[0], h.shape[1]
        q, k, v = self.qkv(h).reshape(batch, tokens, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        weights = ((q * self.head_dim ** -0.5) @ k.transpose(-2, -1)).softmax(-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(batch, tokens, self.heads * self.head_dim))


class Block(nn.Module):
    """A pre-norm transformer block: h + attention(LN(h)), then h + MLP(LN(h))."""

    def __init__(self, dim: int, heads: int, head_dim: int, hidden: int):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim, eps=EPS), Attention(dim, heads, head_dim)
        self.norm2 = nn.LayerNorm(dim, eps=EPS)
        self.mlp = nn.Sequential(OrderedDict(fc1=nn.Linear(dim, hidden), act=nn.GELU(), fc2=nn.Linear(hidden, dim)))

    def forward(self, h: Tensor) -> Tensor:
        h = h + self.attn(self.norm1(h))
        return h + self.mlp(self.norm2(h))


class ViTModule(nn.Module):
    """The vision transformer as a plain `nn.Module` at given widths: `blocks` is each block's
    (heads, MLP hidden units)."""

    def __init__(self, input_shape: tuple[int, ...], patch: int, dim: int, head_dim: int,
                 blocks: list[tuple[int, int]], n_classes: int, pool: str):
        super().__init__()
        self.input_shape, self.patch, self.pool = tuple(input_shape), patch, pool
        tokens = math.prod(n // patch for n in input_shape[1:])
        self.embed = nn.Linear(input_shape[0] * patch ** (len(input_shape) - 1), dim)
        self.pos_embed = nn.Parameter(torch.zeros(tokens + (pool == "cls"), dim))
        self.cls_token = nn.Parameter(torch.zeros(dim)) if pool == "cls" else None
        self.blocks = nn.ModuleList(Block(dim, heads, head_dim, hidden) for heads, hidden in blocks)
        self.norm, self.head = nn.LayerNorm(dim, eps=EPS), nn.Linear(dim, n_classes)

    def linears(self) -> list[nn.Linear]:
        """The linear layers in the parent's layer order (each layer tuple's weight)."""
        inner = [m for b in self.blocks for m in (b.attn.qkv, b.attn.proj, b.mlp.fc1, b.mlp.fc2)]
        return [self.embed, *inner, self.head]

    def forward(self, x: Tensor) -> Tensor:
        h = self.embed(patches(x, self.input_shape, self.patch))
        if self.cls_token is not None:
            h = torch.cat([self.cls_token.expand(h.shape[0], 1, -1), h], 1)
        h = h + self.pos_embed
        for block in self.blocks:
            h = block(h)
        return self.head(self.norm(h[:, 0] if self.pool == "cls" else h.mean(1)))


def check_settings(config, node_sparsities: list[float]) -> None:
    """What the `[parent]` table alone refuses, before the data loads: invalid settings and node
    sparsities that remove every head or every MLP unit of a block."""
    s = kind_settings(config.parent, ViTSettings)
    refuse_emptied(s.depth, s.heads, s.hidden, node_sparsities)


def example_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The example shape vit reads: flat features are one channel of a signal; [C, L] and [C, H, W] as given."""
    if len(shape) == 1:
        return (1, shape[0])
    if len(shape) not in (2, 3):
        raise SparsearchError(f"parent.kind = 'vit' reads signals [channels, length] or images [channels, height, "
                              f"width]; the data's examples have shape {list(shape)}")
    return tuple(shape)


def vit(config, shape: tuple[int, ...], n_classes: int) -> ViT:
    s = kind_settings(config, ViTSettings)
    shape = example_shape(shape)
    settings = {**s.model_dump(), "patch": s.patch or PATCH[len(shape) - 1]}
    return ViT(shape, settings["patch"], s.dim, s.depth, s.heads, s.hidden, s.pool, n_classes, settings)
