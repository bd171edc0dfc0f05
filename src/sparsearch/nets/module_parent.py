"""A user's own `nn.Module` as a parent (`sparsearch.register_parent(kind, factory)`).

`factory(shape, n_classes)` builds the module for examples of `shape` (e.g. (1, 8, 8)); the
module reads examples [B, *shape] (the flat features the datasets hold are reshaped for it).

Weight space, any module: a population runs as `torch.func.vmap` over `torch.func.functional_call`
of the one module with each network's parameters (stacked state, as in the torch.func "model
ensembling" recipe), and the engine differentiates that forward with autograd.

Layers (nets/base.py): every parameter of 2 or more dims (a Conv/Linear/Embedding weight) starts
a layer and is its maskable weight; every other parameter (biases, normalization affines) joins
the layer before it, in `named_parameters()` order (one before any weight joins the first
layer). Names are kept, so `state_dict` is the module's own state dict of parameters. Buffers
stay in the module as constants. BatchNorm is refused in one line: the stacked program cannot
update running statistics, and batch statistics at evaluation make a network's accuracy depend
on the evaluation batch (issue 29: 0.91 on the whole test set, 0.55 in pairs); use
GroupNorm/LayerNorm, or the built-in resnet20, which calibrates its BatchNorm.

Node space: the channel groups Torch-Pruning's dependency graph traces (Fang et al. 2023,
"DepGraph: Towards Any Structural Pruning", CVPR; nets/channel_groups.py), or the groups the
user declared. A module whose groups cannot be traced still runs in the weight space (its
`widths` then list no node groups); the node space says why in one line (`compact`).
"""

from __future__ import annotations

import copy
import math
from functools import cached_property, partial

import torch
from torch import Tensor, nn
import torch.nn.utils.prune  # noqa: F401  (nn.utils.prune)
from torch.func import functional_call, vmap

from ..errors import SparsearchError, described
from ..spaces.node import NodeMask
from .geometry import Cost, refuse_empty_groups
from ..spaces.weight import WeightMask
from .base import Params, stacked
from .channel_groups import ChannelGroup, declared_groups, thin, trace_groups

FLOAT = 4
EXAMPLES = 2  # examples the module runs on to measure and trace it


class ModuleParent:
    """The parent kind `kind`: the module `factory(shape, n_classes)`, node groups traced or `declared`."""

    def __init__(self, kind: str, factory, shape: tuple[int, ...], n_classes: int,
                 declared: list[list[tuple[str, int]]] | None = None):
        self.kind, self.factory, self.input_shape, self.n_classes = kind, factory, tuple(shape), n_classes
        self._declared = declared
        self._module = self._build(0)
        norms = [n for n, m in self._module.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if norms:
            raise SparsearchError(f"parent kind {kind!r}: {norms[0]!r} is a BatchNorm, which the stacked torch.func "
                                  f"program can neither update running statistics of nor evaluate without letting "
                                  f"the evaluation batch change the result; use GroupNorm or LayerNorm (or the "
                                  f"built-in resnet20, whose BatchNorm is calibrated)")
        self.layout: list[tuple[str, ...]] = []  # parameter names per layer, the weight first
        leading: list[str] = []
        for name, p in self._module.named_parameters():
            if p.dim() >= 2:
                self.layout.append((name,))
            elif self.layout:
                self.layout[-1] += (name,)
            else:
                leading.append(name)
        if not self.layout:
            raise SparsearchError(f"parent kind {kind!r}: the module has no weight of 2 or more dims to prune")
        self.layout[0] += tuple(leading)
        self._measure()

    def _build(self, seed: int) -> nn.Module:
        """The factory's module, built after `torch.manual_seed(seed)` without touching the global RNG."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            try:
                module = self.factory(self.input_shape, self.n_classes)
            except SparsearchError:
                raise
            except Exception as error:
                raise SparsearchError(f"registered parent {self.kind!r} failed: {described(error)}") from error
        if not isinstance(module, nn.Module):
            raise SparsearchError(f"parent kind {self.kind!r}: the factory must return an nn.Module, got "
                                  f"{type(module).__name__}")
        return module

    def _measure(self) -> None:
        """Run the module once on EXAMPLES examples with forward hooks: each leaf module's output size
        (activations, for `footprint`) and each weight's output positions (for FLOPs)."""
        outputs, positions, hooks = [], {}, []
        for prefix, m in self._module.named_modules():
            def hook(m, args, out, prefix=prefix):
                if not isinstance(out, Tensor):
                    return
                if not any(True for _ in m.children()):
                    outputs.append(out.numel())
                for name, p in m.named_parameters(recurse=False):
                    if p.dim() >= 2:
                        full = f"{prefix}.{name}" if prefix else name
                        positions[full] = max(1, out.numel() // (EXAMPLES * p.shape[0]))
            hooks.append(m.register_forward_hook(hook))
        try:
            with torch.no_grad():
                out = self._module.eval()(self._example())
        except Exception as e:
            raise SparsearchError(f"parent kind {self.kind!r}: the module fails on examples of shape "
                                  f"{list(self.input_shape)} ({described(e)[:200]})") from e
        finally:
            for h in hooks:
                h.remove()
        got = list(out.shape) if isinstance(out, Tensor) else type(out).__name__
        if got != [EXAMPLES, self.n_classes]:
            raise SparsearchError(f"parent kind {self.kind!r}: the module's output width must be the data's "
                                  f"{self.n_classes} classes (logits [examples, {self.n_classes}]), got {got} "
                                  f"for {EXAMPLES} examples")
        self._activations = [n // EXAMPLES for n in outputs] or [self.n_classes]
        self._positions = [positions.get(layer[0], 1) for layer in self.layout]

    def _example(self) -> Tensor:
        """A batch of EXAMPLES zero examples (two: batch statistics need more than one)."""
        return torch.zeros(EXAMPLES, *self.input_shape)

    # ------------------------------------------------------------------ node groups

    @cached_property
    def _groups(self) -> list[ChannelGroup] | SparsearchError:
        """The channel groups, or the one-line error saying why there are none."""
        grouped = [(n, m.groups) for n, m in self._module.named_modules()
                   if isinstance(m, nn.modules.conv._ConvNd) and m.groups > 1]
        if grouped:
            name, count = grouped[0]
            return SparsearchError(f"parent kind {self.kind!r}: {name!r} is a grouped convolution (groups={count}), "
                                   f"whose group count cannot shrink with its channels, so the node space cannot "
                                   f"thin it; use search.space = \"weight\"")
        try:
            groups = (declared_groups(self._module, self._declared) if self._declared is not None
                      else trace_groups(self._module, self._example()))
        except SparsearchError as e:
            return SparsearchError(f"parent kind {self.kind!r}: the node space needs its channel groups: {e}, "
                                   f"with register_parent(kind, factory, groups=[[(name, dim), ...], ...])")
        if not groups:
            return SparsearchError(f"parent kind {self.kind!r}: the node space needs its channel groups, and "
                                   f"Torch-Pruning traced none; declare them with register_parent(kind, factory, "
                                   f"groups=[[(name, dim), ...], ...])")
        names = {n for layer in self.layout for n in layer}
        for g in groups:
            for name, _, _ in g.members:
                if name not in names:
                    return SparsearchError(f"parent kind {self.kind!r}: the node space cannot thin channel group "
                                           f"member {name!r}, a buffer, not a parameter")
        return groups

    @property
    def groups(self) -> list[ChannelGroup]:
        if isinstance(self._groups, SparsearchError):
            raise self._groups
        return self._groups

    # ------------------------------------------------------------------ the protocol

    @property
    def widths(self) -> tuple[int, ...]:
        hidden = () if isinstance(self._groups, SparsearchError) else tuple(g.size for g in self._groups)
        return (math.prod(self.input_shape), *hidden, self.n_classes)

    @property
    def weight_shapes(self) -> tuple[tuple[int, ...], ...]:
        return tuple(tuple(self._module.get_parameter(layer[0]).shape) for layer in self.layout)

    def spec(self) -> dict:
        return {"kind": self.kind, "input": list(self.input_shape), "classes": self.n_classes, "settings": {}}

    def init(self, seed: int) -> Params:
        return self.from_state_dict(dict(self._build(seed).named_parameters()))

    def forward(self, params: Params, x: Tensor, train: bool = False) -> Tensor:
        """vmap over the networks of functional_call(module, their parameters); dropout draws
        differ per network (`randomness="different"`)."""
        self._module.train(train)

        def one(state, xb):
            return functional_call(self._module, state, (xb.reshape(xb.shape[0], *self.input_shape),))

        return vmap(one, in_dims=(0, 0 if x.dim() == 3 else None), randomness="different")(self._named(params), x)

    def compact(self, params: Params, masks: list[NodeMask]) -> Params:
        groups = self.groups
        return stacked([self.from_state_dict(thin(self.state_dict(params), groups, [list(k) for k in m.keep]))
                        for m in masks])

    def unit_scores(self, weight_scores: list[Tensor]) -> list[Tensor]:
        """A channel's score: the sum of its incoming weights' scores (its slices of dim 0 of
        every layer weight in its group)."""
        scores = {layer[0]: s for layer, s in zip(self.layout, weight_scores)}
        return [sum(scores[n].flatten(1).sum(1) for n, dim, _ in g.members if n in scores and dim == 0)
                for g in self.groups]

    def check_node_sparsities(self, sparsities: list[float]) -> None:
        groups = [(f"channels of {self.kind}'s group {i} ({g.members[0][0]} ...)", g.size)
                  for i, g in enumerate(self.groups, 1)]
        refuse_empty_groups(groups, sparsities, "wider layers in the module")

    def footprint(self, params: Params, batch: int) -> tuple[int, int]:
        """Parameters, gradients and two optimizer buffers, and three floats per output of every
        leaf module (forward, activation, backward), measured on the parent (an upper bound for
        thinner networks)."""
        n_params = sum(t[0].numel() for layer in params for t in layer)
        return FLOAT * (4 * n_params + 3 * batch * sum(self._activations)), max(self._activations)

    def cost(self, mask) -> Cost:
        """Weight sparsity over the layer weights; params = kept weights + other parameters;
        FLOPs = 2 x kept weights x their module's output positions (1 for a parameter used outside
        its module's forward, e.g. by F.conv2d). A node mask costs its thinned network; a weight
        mask's node sparsity counts channels left with no incoming or no outgoing weight (0 when the
        module has no node groups)."""
        state = {n: p.detach() for n, p in self._module.named_parameters()}
        total = sum(math.prod(s) for s in self.weight_shapes)
        others = sum(t.numel() for n, t in state.items() if n not in {layer[0] for layer in self.layout})
        if isinstance(mask, WeightMask):
            kept = mask.kept()
            node = self._dead(mask) if self.widths[1:-1] else 0.0
        else:
            groups = self.groups
            thinned = thin(state, groups, [list(k) for k in mask.keep])
            kept = [thinned[layer[0]].numel() for layer in self.layout]
            others = sum(t.numel() for t in thinned.values()) - sum(kept)
            node = 1 - sum(map(len, mask.keep)) / sum(g.size for g in groups)
        flops = 2 * sum(k * p for k, p in zip(kept, self._positions))
        return Cost(node, 1 - sum(kept) / total, sum(kept) + others, flops)

    def _dead(self, mask: WeightMask) -> float:
        keep = {layer[0]: m for layer, m in zip(self.layout, mask.layers)}
        dead = 0
        for g in self.groups:
            incoming, outgoing = [], []
            for name, dim, _ in g.members:
                if name in keep:
                    (incoming if dim == 0 else outgoing).append(keep[name].movedim(dim, 0).reshape(g.size, -1).any(1))
            live = torch.ones(g.size, dtype=torch.bool)
            for side in (incoming, outgoing):
                if side:
                    live &= torch.stack(side).any(0)
            dead += int((~live).sum())
        return dead / sum(g.size for g in self.groups)

    def state_dict(self, params: Params) -> dict[str, Tensor]:
        return {name: t.contiguous() for name, t in self._named(params).items()}

    def from_state_dict(self, state: dict[str, Tensor]) -> Params:
        return [tuple(state[name].detach() for name in names) for names in self.layout]

    def module(self, params: Params, weight_mask=None) -> nn.Module:
        """A copy of the factory's module holding `params` (thinner layers get their new widths:
        in/out channels and features, num_features); it reads flat features [B, F] too (a forward
        pre-hook reshapes them to [B, *shape])."""
        module = copy.deepcopy(self._module).train()
        for name, t in self.state_dict(params).items():
            module.get_parameter(name).data = t.clone()
        for m in module.modules():
            _resize(m)
        module.register_forward_pre_hook(partial(_unflatten, self.input_shape))
        if weight_mask is not None:
            for layer, keep in zip(self.layout, weight_mask.layers):
                owner, _, attr = layer[0].rpartition(".")
                dtype = module.get_parameter(layer[0]).dtype
                nn.utils.prune.custom_from_mask(module.get_submodule(owner), attr, keep.to(dtype))
        return module

    def _named(self, params: Params) -> dict[str, Tensor]:
        return {name: t for names, layer in zip(self.layout, params) for name, t in zip(names, layer)}


def _unflatten(shape: tuple[int, ...], module: nn.Module, args: tuple) -> tuple:
    x, *rest = args
    return (x.reshape(x.shape[0], *shape), *rest)


def _resize(m: nn.Module) -> None:
    """Set a layer's width attributes from its (possibly thinned) parameters, so its repr is right."""
    w = getattr(m, "weight", None)
    if not isinstance(w, Tensor):
        return
    if isinstance(m, nn.Linear):
        m.out_features, m.in_features = w.shape
    elif isinstance(m, nn.modules.conv._ConvNd):
        out, inp = (w.shape[1] * m.groups, w.shape[0]) if m.transposed else (w.shape[0], w.shape[1] * m.groups)
        m.out_channels, m.in_channels = out, inp
    elif isinstance(m, nn.modules.batchnorm._NormBase):
        m.num_features = w.shape[0]
