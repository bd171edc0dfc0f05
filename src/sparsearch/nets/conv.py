"""Plain convolutional parents (convolutions, then dense layers) as population modules.

A population of P networks runs each convolution in one of two exact forms (every network
computes what it computes alone), the faster one measured on this project's 2-core CPU
(docs/benchmarks.md) chosen by default:
- 1-D parents: ONE batched matrix product (im2col). Activations are kept channels-last,
  [P, B, *space, C]; a layer's patches are its kernel offsets' strided slices concatenated along
  the channels, and `baddbmm` multiplies each network's patches by its own filters: 1.3-1.8x
  faster than grouped convolution on the MNIST-1D CNN, and than `torch.func.vmap`, whose
  batching rule is that grouped convolution.
- 2-D parents: ONE grouped convolution per layer (the population folded into the channels,
  `groups = P`): 2.4x faster than im2col on LeNet-5, whose 5x5 kernels make 25 slices.
Dense layers are one `baddbmm` each, as in the MLP.

Layer tuples follow nets/base.py: (weight, bias) with PyTorch's layouts, a convolution's weight
[out, in, *kernel] and a dense layer's [out, in]. Node groups are every convolution's output
channels and every hidden dense layer's units; the first dense layer reads the last
convolution's output flattened channel by channel (as `nn.Flatten` does), so a kept channel
keeps its block of features. Initialisation is PyTorch's default for `nn.Conv*d`/`nn.Linear`,
drawn in `nn.Sequential`'s order, so a parent built with seed s equals `module()` built after
`torch.manual_seed(s)`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
import torch.nn.utils.prune  # noqa: F401  (nn.utils.prune)

from ..errors import SparsearchError
from ..spaces.node import NodeMask
from .geometry import Cost, refuse_empty_groups
from ..spaces.weight import WeightMask
from .base import Params, population_size, stacked

FLOAT = 4


@dataclass(frozen=True)
class ConvLayer:
    """A convolution (square kernel), its ReLU, then max-pooling with kernel = stride = `pool`."""

    channels: int
    kernel: int
    stride: int = 1
    padding: int = 0
    pool: int = 1


@dataclass(frozen=True)
class ConvNet:
    """A parent of convolutions (1-D or 2-D by the example shape) followed by dense layers."""

    kind: str
    input_shape: tuple[int, ...]  # [channels, length] or [channels, height, width]
    convs: tuple[ConvLayer, ...]
    hidden: tuple[int, ...]  # dense hidden widths after the flatten
    n_classes: int
    settings: dict = field(default_factory=dict)  # the `[parent]` settings that built it (spec)
    variant: dict = field(default_factory=dict)  # what else the shape decided that earlier versions did not (spec)
    layout: Literal["im2col", "grouped"] | None = None  # None: `population_layout`'s choice

    def __post_init__(self):
        sizes = self.sizes
        if min(min(s) for s in sizes) < 1:
            raise SparsearchError(f"parent.kind = {self.kind!r}: examples of shape {list(self.input_shape)} are too "
                                  f"small for its {len(self.convs)} convolutions and poolings (feature maps "
                                  f"{[list(s) for s in sizes]}); use larger inputs or another kind")

    @property
    def dims(self) -> int:
        return len(self.input_shape) - 1

    @property
    def sizes(self) -> list[tuple[int, ...]]:
        """Spatial size of each convolution's output before and after its pooling: [conv1, pool1, ...]."""
        out, size = [], self.input_shape[1:]
        for c in self.convs:
            size = tuple((n + 2 * c.padding - c.kernel) // c.stride + 1 for n in size)
            out.append(size)
            size = tuple(n // c.pool for n in size)
            out.append(size)
        return out

    @property
    def conv_positions(self) -> list[int]:
        """Output positions of each convolution (how often each of its weights is used)."""
        return [math.prod(s) for s in self.sizes[0::2]]

    @property
    def flat_block(self) -> int:
        """Features per channel after the flatten."""
        return math.prod(self.sizes[-1])

    @property
    def widths(self) -> tuple[int, ...]:
        return (math.prod(self.input_shape), *(c.channels for c in self.convs), *self.hidden, self.n_classes)

    @property
    def weight_shapes(self) -> tuple[tuple[int, ...], ...]:
        return _weight_shapes(self, self.widths[1:-1])

    def spec(self) -> dict:
        return {"kind": self.kind, "input": list(self.input_shape), "classes": self.n_classes,
                "settings": self.settings, **self.variant}

    def init(self, seed: int) -> Params:
        gen = torch.Generator().manual_seed(seed)
        return [(default_weight(shape, gen), default_bias(shape, gen)) for shape in self.weight_shapes]

    @property
    def population_layout(self) -> str:
        """How a population's convolutions run: `layout`, else im2col for 1-D and grouped
        convolution for 2-D parents (the faster of the two on each, docs/benchmarks.md)."""
        return self.layout or ("im2col" if self.dims == 1 else "grouped")

    def forward(self, params: Params, x: Tensor, train: bool = False) -> Tensor:
        population, batch = population_size(params), x.shape[-2]
        channels, *space = self.input_shape
        h = x.view(-1, batch, channels, *space).expand(population, batch, channels, *space)
        convs = list(zip(self.convs, params))
        if self.population_layout == "im2col":
            h = h.movedim(2, -1)  # channels last: [P, B, *space, C]
            for spec, (w, b) in convs:
                h = torch.relu(convolve(h, w, b, spec.kernel, spec.stride, spec.padding))
                if spec.pool > 1:
                    h = max_pool(h, spec.pool)
            h = h.movedim(-1, 2)
        else:
            h = grouped_convolutions(h, convs)
        h = h.reshape(population, batch, -1)  # flattened channel by channel, as nn.Flatten
        dense = params[len(self.convs):]
        for i, (w, b) in enumerate(dense):
            h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
            if i < len(dense) - 1:
                h = torch.relu(h)
        return h

    def compact(self, params: Params, masks: list[NodeMask]) -> Params:
        return stacked([self._thin(params, m.keep) for m in masks])

    def _thin(self, params: Params, keep: tuple[tuple[int, ...], ...]) -> Params:
        """One unstacked network keeping the channels and units `keep` of each node group."""
        n_conv, layers = len(self.convs), []
        previous = None
        for i, (w, b) in enumerate(params):
            rows = torch.tensor(keep[i]) if i < len(keep) else None
            if previous is not None:
                cols = previous
                if i == n_conv:  # the flatten: a kept channel keeps its block of features
                    block = self.flat_block
                    cols = (previous.unsqueeze(1) * block + torch.arange(block)).flatten()
                w = w.index_select(1, cols)
            if rows is not None:
                w, b = w.index_select(0, rows), b.index_select(0, rows)
            layers.append((w.contiguous(), b.contiguous()))
            previous = rows
        return layers

    def unit_scores(self, weight_scores: list[Tensor]) -> list[Tensor]:
        """A channel's (unit's) score: the sum of its incoming weights' scores."""
        return [s.flatten(1).sum(1) for s in weight_scores[:-1]]

    def check_node_sparsities(self, sparsities: list[float]) -> None:
        groups = [*((f"channels of {self.kind}'s convolution {i}", c.channels) for i, c in enumerate(self.convs, 1)),
                  *((f"units of {self.kind}'s dense layer {i}", width) for i, width in enumerate(self.hidden, 1))]
        refuse_empty_groups(groups, sparsities, "wider parent.channels")

    def footprint(self, params: Params, batch: int) -> tuple[int, int]:
        """Parameters, gradients and two optimizer buffers, and three activations per output
        of every layer (forward, its ReLU, backward)."""
        n_params = sum(t[0].numel() for layer in params for t in layer)
        channels = [layer[0].shape[1] for layer in params]
        conv_outputs = [c * p for c, p in zip(channels[: len(self.convs)], self.conv_positions)]
        activations = [*conv_outputs, *channels[len(self.convs):]]
        return FLOAT * (4 * n_params + 3 * batch * sum(activations)), max(activations)

    def cost(self, mask) -> Cost:
        parent_weights = sum(math.prod(s) for s in self.weight_shapes)
        if isinstance(mask, WeightMask):
            return self._weight_cost(mask, parent_weights)
        groups = tuple(len(k) for k in mask.keep)
        shapes = _weight_shapes(self, groups)
        weights = sum(math.prod(s) for s in shapes)
        total = sum(self.widths[1:-1])
        return Cost((total - sum(groups)) / total, 1 - weights / parent_weights,
                    weights + sum(s[0] for s in shapes), self._flops([math.prod(s) for s in shapes]))

    def _weight_cost(self, mask: WeightMask, parent_weights: int) -> Cost:
        """Weight sparsity over all weights; node sparsity counts channels and units left with no
        incoming or no outgoing weight; params = kept weights + all biases; FLOPs = 2 per kept
        multiply-add at every output position."""
        kept = mask.kept()
        dead = 0
        for i, (incoming, outgoing) in enumerate(zip(mask.layers[:-1], mask.layers[1:])):
            inputs = outgoing.flatten(2).any(2).any(0) if outgoing.dim() > 2 else outgoing.any(0)
            if i == len(self.convs) - 1:  # the flatten
                inputs = inputs.view(-1, self.flat_block).any(1)
            dead += int((~(incoming.flatten(1).any(1) & inputs)).sum())
        total = sum(self.widths[1:-1])
        biases = sum(s[0] for s in self.weight_shapes)
        return Cost(dead / total, 1 - sum(kept) / parent_weights, sum(kept) + biases, self._flops(kept))

    def _flops(self, weights_per_layer: list[int]) -> int:
        positions = [*self.conv_positions, *[1] * (len(weights_per_layer) - len(self.convs))]
        return 2 * sum(w * p for w, p in zip(weights_per_layer, positions))

    def state_dict(self, params: Params) -> dict[str, Tensor]:
        indices = _module_indices(self)
        return {f"{index}.{name}": t.contiguous() for index, (w, b) in zip(indices, params)
                for name, t in (("weight", w), ("bias", b))}

    def from_state_dict(self, state: dict[str, Tensor]) -> Params:
        return [(state[f"{i}.weight"], state[f"{i}.bias"]) for i in _module_indices(self)]

    def module(self, params: Params, weight_mask=None) -> nn.Sequential:
        """`nn.Sequential(Unflatten, Conv, ReLU, [MaxPool], ..., Flatten, Linear, ReLU, ..., Linear)`
        at the widths of `params`; it reads flat features [B, F] as the datasets hold them."""
        conv = nn.Conv1d if self.dims == 1 else nn.Conv2d
        pool = nn.MaxPool1d if self.dims == 1 else nn.MaxPool2d
        layers: list[nn.Module] = [nn.Unflatten(1, self.input_shape)]
        linears = []
        for spec, (w, _) in zip(self.convs, params):
            layers += [conv(w.shape[1], w.shape[0], spec.kernel, spec.stride, spec.padding), nn.ReLU()]
            linears.append(layers[-2])
            if spec.pool > 1:
                layers.append(pool(spec.pool))
        layers.append(nn.Flatten())
        dense = params[len(self.convs):]
        for i, (w, _) in enumerate(dense):
            layers.append(nn.Linear(w.shape[1], w.shape[0]))
            linears.append(layers[-1])
            if i < len(dense) - 1:
                layers.append(nn.ReLU())
        module = nn.Sequential(*layers)
        module.load_state_dict(self.state_dict(params))
        if weight_mask is not None:
            for layer, keep in zip(linears, weight_mask.layers):
                nn.utils.prune.custom_from_mask(layer, "weight", keep.to(layer.weight.dtype))
        return module


def default_weight(shape: tuple[int, ...], gen: torch.Generator) -> Tensor:
    """PyTorch's default initial weight of `nn.Conv*d`/`nn.Linear` ([out, in, *kernel]):
    Kaiming-uniform with a = sqrt(5), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    weight = torch.empty(shape)
    torch.nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=gen)
    return weight


def default_bias(shape: tuple[int, ...], gen: torch.Generator) -> Tensor:
    """PyTorch's default initial bias of a layer whose weight has `shape`: U(-1/sqrt(fan_in), ...)."""
    bound = 1 / math.sqrt(math.prod(shape[1:]))
    return torch.empty(shape[0]).uniform_(-bound, bound, generator=gen)


def convolve(h: Tensor, w: Tensor, b: Tensor, kernel: int, stride: int, padding: int) -> Tensor:
    """Each network's convolution of channels-last `h` [P, B, *space, C] with its filters
    w [P, out, C, *kernel] and biases b [P, out]: [P, B, *space', out]."""
    population, batch, *space, channels = h.shape
    if padding:
        h = F.pad(h, (0, 0) + (padding, padding) * len(space))
    out = [(n + 2 * padding - kernel) // stride + 1 for n in space]
    patches = torch.cat([h[(slice(None), slice(None), *(slice(o, o + stride * (m - 1) + 1, stride)
                                                         for o, m in zip(offset, out)))]
                         for offset in itertools.product(range(kernel), repeat=len(space))], -1)
    filters = w.permute(0, *range(3, w.dim()), 2, 1).reshape(population, -1, w.shape[1])  # rows: (offset, C)
    y = torch.baddbmm(b.unsqueeze(1), patches.view(population, -1, filters.shape[1]), filters)
    return y.view(population, batch, *out, -1)


def grouped_convolutions(h: Tensor, convs: list) -> Tensor:
    """The convolutions (with ReLU and pooling) of every network of `h` [P, B, C, *space] as ONE
    grouped convolution per layer: the population folded into the channels, `groups` = P."""
    population, batch = h.shape[:2]
    h = h.transpose(0, 1).reshape(batch, -1, *h.shape[3:])  # [B, P*C, *space]
    pool = F.max_pool1d if h.dim() == 3 else F.max_pool2d
    for spec, (w, b) in convs:
        h = torch.relu(grouped_convolution(h, w, b, spec.stride, spec.padding))
        if spec.pool > 1:
            h = pool(h, spec.pool)
    return h.view(batch, population, -1, *h.shape[2:]).transpose(0, 1)


def grouped_convolution(h: Tensor, w: Tensor, b: Tensor | None, stride: int, padding: int) -> Tensor:
    """Every network's convolution of `h` [B, P * C, *space] (network p's channels at p * C) with
    its filters w [P, out, C, *kernel] and biases b [P, out] (None: no bias) as ONE grouped
    convolution, `groups` = P: [B, P * out, *space']."""
    conv = F.conv1d if h.dim() == 3 else F.conv2d
    return conv(h, w.reshape(-1, *w.shape[2:]), None if b is None else b.reshape(-1), stride, padding,
                groups=w.shape[0])


def max_pool(h: Tensor, pool: int) -> Tensor:
    """Max-pooling of channels-last `h` [P, B, *space, C], kernel = stride = `pool` (a trailing
    remainder dropped, as `nn.MaxPool*d`)."""
    population, batch, *space, channels = h.shape
    out = [n // pool for n in space]
    h = h[(slice(None), slice(None), *(slice(0, m * pool) for m in out))]
    windows = h.reshape(population, batch, *[n for m in out for n in (m, pool)], channels)
    return windows.amax(tuple(3 + 2 * i for i in range(len(space))))


def _weight_shapes(net: ConvNet, groups: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """Each layer's weight shape when the node groups have these sizes."""
    n_conv = len(net.convs)
    outs = (*groups, net.n_classes)
    ins = (net.input_shape[0], *groups[: n_conv - 1], groups[n_conv - 1] * net.flat_block, *groups[n_conv:])
    kernels = [(c.kernel,) * net.dims for c in net.convs]
    return tuple((o, i, *(kernels[n] if n < n_conv else ())) for n, (o, i) in enumerate(zip(outs, ins)))


def _module_indices(net: ConvNet) -> list[int]:
    """Positions of the weighted layers in `module()`'s Sequential."""
    indices, at = [], 1  # 0 is the Unflatten
    for c in net.convs:
        indices.append(at)
        at += 2 + (c.pool > 1)
    at += 1  # the Flatten
    for _ in range(len(net.hidden) + 1):
        indices.append(at)
        at += 2
    return indices


def image_shape(kind: str, shape: tuple[int, ...], dims: int) -> tuple[int, ...]:
    """The example shape a `dims`-D conv parent reads: flat features count as one channel of a
    1-D signal; anything else must already be [channels, *space] with `dims` spatial axes."""
    if dims == 1 and len(shape) == 1:
        return (1, shape[0])
    if len(shape) != dims + 1:
        want = "signals [channels, length]" if dims == 1 else "images [channels, height, width]"
        raise SparsearchError(f"parent.kind = {kind!r} reads {want}; the data's examples have shape {list(shape)} "
                              f"(give the dataset its image shape, or use kind = \"mlp\")")
    return tuple(shape)


def stage_widths(kind: str, channels: list[int] | None, default: tuple[int, ...]) -> tuple[int, ...]:
    """`[parent] channels` for a kind whose published widths are `default` (same length)."""
    if channels is None:
        return default
    if len(channels) != len(default):
        raise SparsearchError(f"parent.channels: {kind} takes {len(default)} widths (published: {list(default)}), "
                              f"got {channels}")
    return tuple(channels)
