"""`resnet20`: the CIFAR ResNet-20 of He et al. 2016 ("Deep Residual Learning for Image
Recognition", section 4.2) as a population module.

A 3x3 convolution of 16 channels (BatchNorm, ReLU), three stages of three basic blocks of 16,
32 and 64 channels (each block conv-BN-ReLU-conv-BN, plus its shortcut, then ReLU; the first
block of stages 2 and 3 has stride 2), global average pooling and the classifier. Shortcuts are
the paper's option A, parameter-free: the identity, and where a stage begins, stride-2
subsampling with the new channels zero-padded. The paper does not say where the zero channels
go; here they are APPENDED (the stage's first channels carry the previous stage's channels).
Placing them elsewhere only relabels channels, which neither the initialisation nor training
can tell apart. `[parent] channels` sets the three stage widths (strictly increasing: option A
only pads), `[parent] blocks` the basic blocks of each stage (3 each: 6n + 2 = 20 layers with
n = 3); a parent of fewer blocks is the sub-network of Once-for-All's elastic depth (Cai et al.
2020) that keeps the first blocks of each stage (`with_blocks`, `keep_blocks`).

Layer tuples (nets/base.py): every convolution carries its BatchNorm, (weight [out, in, 3, 3],
gamma, beta, running mean, running var), with no conv bias; the classifier is (weight
[classes, C], bias). Twenty weighted layers at the published depth: the stem, two per block,
the classifier. A population of P networks runs as one grouped convolution per layer (as in
nets/conv.py), and BatchNorm over the [B, P * C, H, W] layout normalizes each network's
channels over its own batch: batch statistics (biased variance, eps 1e-5) when training, the
stored running statistics otherwise. `calibrate` sets those from training data (Ioffe & Szegedy 2015,
Algorithm 2) before every evaluation, so training never updates them.

Node groups. Every block's first convolution has its own group (its output channels feed only
the block's second convolution). The residual stream is tied by the additions: every channel
of it is written by the stem or by blocks' second convolutions and carried on by the
shortcuts, so a stream channel is one node wherever it lives. The stream of stage 1 is group
S1 (16 channels); stage 2's stream is S1's channels (first, through the padded shortcut)
followed by its 16 new channels, group S2; stage 3's is S1, S2, then its 32 new channels, S3.
Removing a channel of S1 removes it in all three stages (its stem filter, and its filter in
every block's second convolution), so a thinner network's stream of stage s is again
[kept S1, kept S2, ...], the previous stage's thin stream followed by the kept new channels,
and its option-A shortcut is again "subsample and append zeros", fixed by the shapes alone.
Each group loses its share of nodes at a node sparsity, so stage 2's stream keeps half its
channels at 0.5 as every other group does. Groups, in order of first use:
S1, the first-conv groups of stage 1's blocks, S2, those of stage 2, S3, those of stage 3
(widths = (features, 16, 16, 16, 16, 16, 32, 32, 32, 32, 64, 64, 64, classes) at the published
widths and depth). Initialisation is PyTorch's default for `nn.Conv2d`/`nn.Linear`, drawn in
`module()`'s order, with BatchNorm at weight 1, bias 0, running mean 0 and variance 1, so a
parent built with seed s equals `module()` built after `torch.manual_seed(s)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn
import torch.nn.utils.prune  # noqa: F401  (nn.utils.prune)
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import SparsearchError
from ..spaces.node import NodeMask
from .geometry import Cost, refuse_empty_groups
from ..spaces.weight import WeightMask
from .base import Params, population_size, rows, stacked
from .conv import FLOAT, default_bias, default_weight, grouped_convolution, image_shape, stage_widths
from .settings import kind_settings

STAGES = (16, 32, 64)
BLOCKS = (3, 3, 3)  # basic blocks per stage: 6n + 2 = 20 layers with n = 3
EPS = 1e-5
CALIBRATION_BATCH = 256
CALIBRATION_EXAMPLES = 2048
CALIBRATION_BYTES = 256 * 2**20
"""`calibrate` runs sub-populations whose widest activation stays about this size."""


@dataclass(frozen=True)
class _Map:
    """Where each weighted layer's rows (outputs) and columns (inputs) live in the node space,
    at some group sizes: the global node index of each (-1: not a node, the image's channels
    and the classes)."""

    sizes: tuple[int, ...]
    outs: tuple[Tensor, ...]
    ins: tuple[Tensor, ...]


class ResNet20Settings(BaseModel):
    """resnet20's own `[parent]` settings (nets/settings.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    blocks: list[int] = Field(list(BLOCKS), description="resnet20: basic blocks in each of the 3 stages (published: "
                              "3 each)")

    @field_validator("blocks")
    @classmethod
    def _three_counts(cls, blocks: list[int]) -> list[int]:
        _check_blocks(blocks)
        return blocks


@dataclass(frozen=True)
class ResNet20:
    """ResNet-20 for images [channels, height, width]: stage widths `stages`, `blocks` basic
    blocks per stage."""

    input_shape: tuple[int, int, int]
    stages: tuple[int, int, int]
    n_classes: int
    blocks: tuple[int, int, int] = BLOCKS
    settings: dict = field(default_factory=dict)  # the `[parent]` settings that built it (spec)
    kind: str = "resnet20"

    def __post_init__(self):
        if any(b <= a for a, b in zip(self.stages, self.stages[1:])):
            raise SparsearchError(f"parent.channels: resnet20's stage widths must increase (its option-A shortcuts "
                                  f"zero-pad the new channels), got {list(self.stages)}")
        try:
            _check_blocks(self.blocks)
        except ValueError as error:
            raise SparsearchError(f"parent.blocks: {error}") from None

    # --- elastic depth (Cai et al. 2020, Once-for-All) ----------------------------------------------------------

    def with_blocks(self, blocks: tuple[int, ...]) -> ResNet20:
        """This parent with `blocks[s]` basic blocks in stage s, at most its own."""
        blocks = tuple(blocks)
        if len(blocks) != len(self.blocks) or any(not 1 <= n <= most for n, most in zip(blocks, self.blocks)):
            raise SparsearchError(f"blocks: a sub-network of this resnet20 keeps 1 to {list(self.blocks)} blocks per "
                                  f"stage (a count for each of its {len(self.blocks)} stages), got {list(blocks)}")
        return replace(self, blocks=blocks, settings=_with_blocks(self.settings, blocks))

    def keep_blocks(self, params: Params, blocks: tuple[int, ...]) -> Params:
        """The parameters (stacked or not, as `params`) of `self.with_blocks(blocks)` (refused as
        it refuses): the first `blocks[s]` blocks of each stage, the very tensors of `params`, so
        gradients reach them."""
        self.with_blocks(blocks)
        kept = [at for stage, n in zip(self.block_layers(), blocks) for pair in stage[:n] for at in pair]
        return [params[0], *(params[at] for at in kept), params[-1]]

    def block_layers(self) -> list[list[tuple[int, int]]]:
        """Per stage, per block, the layer indices of its two convolutions. Zeroing the
        BatchNorm gamma and beta of a block's second convolution zeroes its residual branch: a
        block that does not begin a stage becomes the identity (its input is a ReLU's)."""
        out, at = [], 1
        for n in self.blocks:
            out.append([(at + 2 * b, at + 2 * b + 1) for b in range(n)])
            at += 2 * n
        return out

    def kept_groups(self, blocks: tuple[int, ...]) -> list[int]:
        """The indices in `groups` of the node groups `with_blocks(blocks)` has, in its order:
        per stage its stream group, then the inner groups of its first `blocks[s]` blocks."""
        self.with_blocks(blocks)
        return [g for start, keep in zip(_stage_groups(self.blocks), blocks) for g in range(start, start + 1 + keep)]

    # --- shapes -------------------------------------------------------------------------------------------------

    @property
    def sizes(self) -> list[tuple[int, int]]:
        """Spatial size of each stage's feature maps (stride 2 with padding 1: ceil(n / 2))."""
        out, size = [], tuple(self.input_shape[1:])
        for s in range(len(self.stages)):
            if s > 0:
                size = tuple(-(-n // 2) for n in size)
            out.append(size)
        return out

    @property
    def conv_positions(self) -> list[int]:
        """Output positions of each convolution, in layer order (stem, then two per block)."""
        return [math.prod(self.sizes[0]), *(math.prod(self.sizes[s]) for s, _ in self._order for _ in range(2))]

    @property
    def conv_inputs(self) -> list[tuple[int, tuple[int, int]]]:
        """Each convolution's stride and the spatial size of its input, in layer order."""
        out = [(1, self.sizes[0])]
        for (stage, _), stride in zip(self._order, self._strides):
            out += [(stride, self.sizes[stage - 1] if stride > 1 else self.sizes[stage]), (1, self.sizes[stage])]
        return out

    @property
    def _order(self) -> list[tuple[int, int]]:
        """(stage, block) of every basic block, in layer order."""
        return [(s, b) for s, n in enumerate(self.blocks) for b in range(n)]

    @property
    def _strides(self) -> list[int]:
        """Every block's stride: 2 for the first block of stages 2 and 3."""
        return [2 if s > 0 and b == 0 else 1 for s, b in self._order]

    @property
    def groups(self) -> tuple[int, ...]:
        """The node groups' sizes: per stage its new stream channels, then its blocks' inner channels."""
        out, previous = [], 0
        for width, n in zip(self.stages, self.blocks):
            out += [width - previous, *[width] * n]
            previous = width
        return tuple(out)

    @property
    def widths(self) -> tuple[int, ...]:
        return (math.prod(self.input_shape), *self.groups, self.n_classes)

    @property
    def weight_shapes(self) -> tuple[tuple[int, ...], ...]:
        return _weight_shapes(self, self.groups)

    def spec(self) -> dict:
        return {"kind": self.kind, "input": list(self.input_shape), "classes": self.n_classes,
                "settings": self.settings}

    # --- parameters and forward ---------------------------------------------------------------------------------

    def init(self, seed: int) -> Params:
        gen = torch.Generator().manual_seed(seed)
        layers = []
        for shape in self.weight_shapes[:-1]:
            c = shape[0]
            layers.append((default_weight(shape, gen), torch.ones(c), torch.zeros(c), torch.zeros(c), torch.ones(c)))
        shape = self.weight_shapes[-1]
        layers.append((default_weight(shape, gen), default_bias(shape, gen)))
        return layers

    def forward(self, params: Params, x: Tensor, train: bool = False) -> Tensor:
        return self._forward(params, x, train)

    def _forward(self, params: Params, x: Tensor, train: bool, record: list | None = None) -> Tensor:
        """The forward pass; with `record`, each BatchNorm's batch mean and biased variance
        ([P * C] each, train mode) are appended to it in layer order."""
        population, batch = population_size(params), x.shape[-2]
        channels, *space = self.input_shape
        if x.dim() == 2:  # one batch shared by every network
            h = x.view(batch, 1, channels, *space).expand(batch, population, channels, *space)
        else:
            h = x.view(population, batch, channels, *space).transpose(0, 1)
        h = h.reshape(batch, population * channels, *space)

        def conv_bn(h: Tensor, layer: tuple[Tensor, ...], stride: int) -> Tensor:
            w, gamma, beta, mean, var = layer
            h = grouped_convolution(h, w, None, stride, 1)
            if record is not None:
                record.append((h.mean((0, 2, 3)), h.var((0, 2, 3), unbiased=False)))
            if train:
                return F.batch_norm(h, None, None, gamma.reshape(-1), beta.reshape(-1), True, 0.0, EPS)
            return F.batch_norm(h, mean.reshape(-1), var.reshape(-1), gamma.reshape(-1), beta.reshape(-1), False,
                                0.0, EPS)

        h = torch.relu(conv_bn(h, params[0], 1))
        for at, stride in zip(range(1, len(params) - 1, 2), self._strides):
            first, second = params[at], params[at + 1]
            out = conv_bn(torch.relu(conv_bn(h, first, stride)), second, 1)
            h = torch.relu(out + _shortcut(h, population, second[0].shape[1], stride))
        h = h.mean((2, 3)).view(batch, population, -1).transpose(0, 1)
        w, b = params[-1]
        return torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))

    def norm_parameters(self, params: Params) -> list[tuple[Tensor, Tensor] | None]:
        """Each convolution's BatchNorm (gamma, beta), [P, out] each; None for the classifier."""
        return [*((layer[1], layer[2]) for layer in params[:-1]), None]

    @torch.no_grad()
    def calibrate(self, params: Params, x_train: Tensor) -> None:
        """Set every network's BatchNorm running mean and variance, in place, by Ioffe &
        Szegedy 2015, Algorithm 2: the training-mode network (each layer normalized with its
        batch statistics) runs over the first min(N, 2048) training examples in order, in
        mini-batches of 256 (all of them if fewer; a last incomplete batch is left out); a
        layer's mean is the mean of its batch means and its variance m / (m - 1) times the mean
        of its biased batch variances, m the values per channel in a batch (examples times
        positions, the effective mini-batch of a convolution, section 3.2)."""
        n = min(x_train.shape[0], CALIBRATION_EXAMPLES)
        m = min(n, CALIBRATION_BATCH)
        batches = n // m
        population = population_size(params)
        _, widest = self.footprint(params, 1)
        step = max(1, CALIBRATION_BYTES // (FLOAT * m * widest))
        for start in range(0, population, step):
            part = rows(params, slice(start, start + step))
            size = population_size(part)
            sums = None
            for k in range(batches):
                record: list = []
                self._forward(part, x_train[k * m : (k + 1) * m], True, record)
                stats = [torch.stack(r) for r in record]
                sums = stats if sums is None else [a + b for a, b in zip(sums, stats)]
            for layer, total, positions in zip(params[:-1], sums, self.conv_positions):
                values = m * positions
                correction = values / (values - 1) if values > 1 else 1.0
                mean, var = (total / batches).view(2, size, -1)
                layer[3][start : start + size].copy_(mean)
                layer[4][start : start + size].copy_(var * correction)

    # --- the node space -----------------------------------------------------------------------------------------

    def compact(self, params: Params, masks: list[NodeMask]) -> Params:
        return stacked([self._thin(params, m.keep) for m in masks])

    def _thin(self, params: Params, keep: tuple[tuple[int, ...], ...]) -> Params:
        """One unstacked network keeping the channels `keep` of each node group."""
        where = _node_map(self.groups, self.blocks)
        kept = torch.zeros(sum(self.groups), dtype=torch.bool)
        offsets = _offsets(self.groups)
        for offset, units in zip(offsets, keep):
            kept[[offset + u for u in units]] = True
        layers = []
        for layer, outs, ins in zip(params, where.outs, where.ins):
            w, *rest = layer
            if (ins >= 0).any():
                w = w[:, (kept[ins.clamp(min=0)] | (ins < 0)).to(w.device)]
            if (outs >= 0).any():
                selected = kept[outs].to(w.device)
                w, rest = w[selected], [t[selected] for t in rest]
            layers.append(tuple(t.contiguous() for t in (w, *rest)))
        return layers

    def unit_scores(self, weight_scores: list[Tensor]) -> list[Tensor]:
        """A channel's score: the sum of its incoming weights' scores over every layer that
        writes it (a stream channel: the stem's and the blocks' second convolutions')."""
        where = _node_map(self.groups, self.blocks)
        device = weight_scores[0].device
        total = torch.zeros(sum(self.groups), dtype=weight_scores[0].dtype, device=device)
        for scores, outs in zip(weight_scores[:-1], where.outs):
            total.index_add_(0, outs.to(device), scores.flatten(1).sum(1))
        return list(total.split(list(self.groups)))

    # --- costs --------------------------------------------------------------------------------------------------

    def check_node_sparsities(self, sparsities: list[float]) -> None:
        names = []
        for stage, n in enumerate(self.blocks, 1):
            names += [f"channels stage {stage} adds to resnet20's residual stream (group S{stage})",
                      *(f"inner channels of resnet20's stage {stage} block {b}" for b in range(1, n + 1))]
        refuse_empty_groups(list(zip(names, self.groups)), sparsities, "wider parent.channels")

    def footprint(self, params: Params, batch: int) -> tuple[int, int]:
        """Parameters (BatchNorm statistics included), gradients and two optimizer buffers, and
        four activations per output of every convolution (convolution, BatchNorm, ReLU or the
        residual sum, backward)."""
        n_params = sum(t[0].numel() for layer in params for t in layer)
        activations = [layer[0].shape[1] * p for layer, p in zip(params[:-1], self.conv_positions)]
        return FLOAT * (4 * n_params + 4 * batch * sum(activations)), max(activations)

    def cost(self, mask) -> Cost:
        """Params = weights + BatchNorm gammas and betas + the classifier's bias (running
        statistics are buffers); FLOPs = 2 per multiply-add of the convolutions at every output
        position and of the classifier (BatchNorm, additions, pooling not counted)."""
        parent_weights = sum(math.prod(s) for s in self.weight_shapes)
        if isinstance(mask, WeightMask):
            return self._weight_cost(mask, parent_weights)
        groups = tuple(len(k) for k in mask.keep)
        shapes = _weight_shapes(self, groups)
        weights = sum(math.prod(s) for s in shapes)
        total = sum(self.groups)
        return Cost((total - sum(groups)) / total, 1 - weights / parent_weights,
                    weights + _biases(shapes), self._flops([math.prod(s) for s in shapes]))

    def _weight_cost(self, mask: WeightMask, parent_weights: int) -> Cost:
        """Weight sparsity over all weights; node sparsity counts channels left with no incoming
        weight (in every layer writing them) or no outgoing weight (in every layer reading them);
        params = kept weights + all BatchNorm affine parameters and the classifier's bias."""
        where = _node_map(self.groups, self.blocks)
        incoming = torch.zeros(sum(self.groups), dtype=torch.bool)
        outgoing = torch.zeros_like(incoming)
        for keep, outs, ins in zip(mask.layers, where.outs, where.ins):
            if (outs >= 0).any():
                incoming[outs[keep.flatten(1).any(1)]] = True
            if (ins >= 0).any():
                used = keep.flatten(2).any(2).any(0) if keep.dim() > 2 else keep.any(0)
                outgoing[ins[used & (ins >= 0)]] = True
        dead = int((~(incoming & outgoing)).sum())
        kept = mask.kept()
        return Cost(dead / sum(self.groups), 1 - sum(kept) / parent_weights, sum(kept) + _biases(self.weight_shapes),
                    self._flops(kept))

    def _flops(self, weights_per_layer: list[int]) -> int:
        positions = [*self.conv_positions, 1]
        return 2 * sum(w * p for w, p in zip(weights_per_layer, positions))

    # --- export -------------------------------------------------------------------------------------------------

    def state_dict(self, params: Params) -> dict[str, Tensor]:
        state = {}
        for (conv, bn), layer in zip(_module_names(self.blocks), params[:-1]):
            for name, t in zip((f"{conv}.weight", *(f"{bn}.{n}" for n in _BN)), layer):
                state[name] = t.contiguous()
        state["fc.weight"], state["fc.bias"] = (t.contiguous() for t in params[-1])
        return state

    def from_state_dict(self, state: dict[str, Tensor]) -> Params:
        layers = [(state[f"{conv}.weight"], *(state[f"{bn}.{n}"] for n in _BN))
                  for conv, bn in _module_names(self.blocks)]
        return [*layers, (state["fc.weight"], state["fc.bias"])]

    def module(self, params: Params, weight_mask=None) -> nn.Module:
        """A `ResNet20Module` at the widths of `params`: `train()` normalizes with batch
        statistics, `eval()` with the stored ones; it reads flat features [B, F]."""
        module = ResNet20Module(self.input_shape, [tuple(layer[0].shape[:2]) for layer in params], self.blocks)
        missing, unexpected = module.load_state_dict(self.state_dict(params), strict=False)
        assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
        if weight_mask is not None:
            layers = [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
            for layer, keep in zip(layers, weight_mask.layers):
                nn.utils.prune.custom_from_mask(layer, "weight", keep.to(layer.weight.dtype))
        return module


_BN = ("weight", "bias", "running_mean", "running_var")


def _check_blocks(blocks) -> None:
    if len(blocks) != len(BLOCKS) or min(blocks) < 1:
        raise ValueError(f"resnet20 takes {len(BLOCKS)} counts of basic blocks (one per stage), each at least 1, "
                         f"got {list(blocks)}")


def _with_blocks(settings: dict, blocks: tuple[int, ...]) -> dict:
    """`settings` naming `blocks` unless they are the published ones (so that the spec, and
    every trial key, of a parent at the published depth stays as it was before depth was a setting)."""
    rest = {key: value for key, value in settings.items() if key != "blocks"}
    return rest if tuple(blocks) == BLOCKS else {**rest, "blocks": list(blocks)}


def _stage_groups(blocks: tuple[int, ...]) -> list[int]:
    """The index in `ResNet20.groups` of each stage's stream group (its inner groups follow it)."""
    return [sum(1 + n for n in blocks[:s]) for s in range(len(blocks))]


def _shortcut(h: Tensor, population: int, out: int, stride: int) -> Tensor:
    """Option A on stacked channels [B, P * C, H, W]: subsample by `stride`, then append
    zero channels up to `out` per network."""
    if stride > 1:
        h = h[:, :, ::stride, ::stride]
    batch, stacked_channels, *space = h.shape
    extra = out - stacked_channels // population
    if extra == 0:
        return h
    h = h.reshape(batch, population, -1, *space)
    return F.pad(h, (0, 0, 0, 0, 0, extra)).reshape(batch, population * out, *space)


def _offsets(groups: tuple[int, ...]) -> list[int]:
    return [sum(groups[:i]) for i in range(len(groups))]


def _node_map(groups: tuple[int, ...], blocks: tuple[int, ...]) -> _Map:
    """The rows and columns of every layer as global node indices (groups in `ResNet20.groups`
    order: per stage its new stream channels, then its blocks' inner channels)."""
    offsets = _offsets(groups)
    stream: list[int] = []
    streams = []
    for g in _stage_groups(blocks):
        stream = stream + [offsets[g] + u for u in range(groups[g])]
        streams.append(torch.tensor(stream, dtype=torch.long))
    outs, ins = [streams[0]], [torch.full((1,), -1, dtype=torch.long)]
    previous = streams[0]
    for start, n, current in zip(_stage_groups(blocks), blocks, streams):
        for g in range(start + 1, start + 1 + n):
            inner = torch.arange(groups[g]) + offsets[g]
            outs += [inner, current]
            ins += [previous, inner]
            previous = current
    outs.append(torch.full((1,), -1, dtype=torch.long))
    ins.append(previous)
    return _Map(groups, tuple(outs), tuple(ins))


def _weight_shapes(net: ResNet20, groups: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """Each layer's weight shape when the node groups have these sizes (the sizes of
    `_node_map`'s rows and columns, counted without building it)."""
    stream = groups[0]
    shapes = [(stream, net.input_shape[0], 3, 3)]
    previous = stream
    for g, n in zip(_stage_groups(net.blocks), net.blocks):
        stream = previous + groups[g] if g else stream
        for inner in groups[g + 1 : g + 1 + n]:
            shapes += [(inner, previous, 3, 3), (stream, inner, 3, 3)]
            previous = stream
    shapes.append((net.n_classes, previous))
    return tuple(shapes)


def _biases(shapes: tuple[tuple[int, ...], ...]) -> int:
    """BatchNorm gammas and betas of every convolution and the classifier's bias."""
    return sum(2 * s[0] for s in shapes[:-1]) + shapes[-1][0]


def _module_names(blocks: tuple[int, ...]) -> list[tuple[str, str]]:
    """(convolution, BatchNorm) names of every convolution in `ResNet20Module`, in layer order."""
    names = [("conv1", "bn1")]
    for stage, n in enumerate(blocks, 1):
        for block in range(n):
            names += [(f"layer{stage}.{block}.conv{i}", f"layer{stage}.{block}.bn{i}") for i in (1, 2)]
    return names


class BasicBlock(nn.Module):
    """conv-BN-ReLU-conv-BN, plus the option-A shortcut (subsample, append zero channels), ReLU."""

    def __init__(self, inputs: int, inner: int, out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, inner, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(inner)
        self.conv2 = nn.Conv2d(inner, out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.stride, self.extra = stride, out - inputs

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        shortcut = x[:, :, :: self.stride, :: self.stride] if self.stride > 1 else x
        if self.extra:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, 0, self.extra))
        return torch.relu(out + shortcut)


class ResNet20Module(nn.Module):
    """ResNet-20 as a plain `nn.Module` at given widths and depth: `shapes` is every weighted
    layer's (out, in), the stem's, two per block, the classifier's; `blocks` the blocks per stage."""

    def __init__(self, input_shape: tuple[int, ...], shapes: list[tuple[int, int]],
                 blocks: tuple[int, ...] = BLOCKS):
        super().__init__()
        self.unflatten = nn.Unflatten(1, tuple(input_shape))
        self.conv1 = nn.Conv2d(input_shape[0], shapes[0][0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(shapes[0][0])
        at = 1
        for stage, n in enumerate(blocks, 1):
            layer = []
            for block in range(n):
                (inner, inputs), (out, _) = shapes[at], shapes[at + 1]
                layer.append(BasicBlock(inputs, inner, out, 2 if stage > 1 and block == 0 else 1))
                at += 2
            setattr(self, f"layer{stage}", nn.Sequential(*layer))
        self.fc = nn.Linear(shapes[-1][1], shapes[-1][0])

    def forward(self, x: Tensor) -> Tensor:
        h = torch.relu(self.bn1(self.conv1(self.unflatten(x))))
        h = self.layer3(self.layer2(self.layer1(h)))
        return self.fc(h.mean((2, 3)))


def resnet20(config, shape: tuple[int, ...], n_classes: int) -> ResNet20:
    blocks = tuple(kind_settings(config, ResNet20Settings).blocks)
    shape = image_shape("resnet20", shape, 2)
    stages = stage_widths("resnet20", config.channels, STAGES)
    return ResNet20(shape, stages, n_classes, blocks, _with_blocks({"channels": list(stages)}, blocks))
