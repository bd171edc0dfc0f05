"""Channel groups of a convolutional network: the channels that must be removed together.

A group is every tensor slice a channel touches: a conv's output channels, the following
BatchNorm's parameters and running statistics, the next layer's input channels, and, through a
residual add, the outputs of every conv that feeds the add. `trace_groups` finds them with
Torch-Pruning's dependency graph (Fang et al. 2023, "DepGraph: Towards Any Structural Pruning",
CVPR); `declared_groups` checks groups a user writes by hand when tracing fails; `thin` cuts a
state dict down to the kept channels of each group.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..errors import SparsearchError

_DECLARE = "declare the channel groups instead (declared_groups)"
_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Linear,
           nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm, nn.Embedding)


@dataclass(frozen=True)
class ChannelGroup:
    """`size` channels removed together. Each member is (state-dict name, dimension, block):
    the tensor's dimension `dimension` holds `size * block` entries, channel-major, so channel c
    is entries c*block .. c*block+block-1 (block 1 for convs, BN and linear layers; H*W for the
    linear after a flatten)."""

    size: int
    members: tuple[tuple[str, int, int], ...]

    def indices(self, member: int, keep: list[int]) -> list[int]:
        """The entries of member `member`'s dimension that the channels `keep` own."""
        block = self.members[member][2]
        return [c * block + j for c in keep for j in range(block)]


# ---------------------------------------------------------------- tracing (Torch-Pruning)


def _aliases(module: nn.Module) -> dict[int, list[str]]:
    """id(tensor) -> every state-dict name of it (a tied weight has several)."""
    names: dict[int, list[str]] = {}
    for name, t in module.state_dict(keep_vars=True).items():
        names.setdefault(id(t), []).append(name)
    return names


def _layer_members(dg, node, out_fn: bool, names: dict[int, list[str]]) -> list[tuple[Tensor, int]]:
    """The (tensor, dim) pairs Torch-Pruning's handler for `node` cuts: out-channel pruning
    when `out_fn`, else in-channel pruning. Raises for layers it cannot map."""
    import torch_pruning as tp

    ops = tp.ops
    m, kind = node.module, node.type
    T = ops.OPTYPE

    def some(*pairs):
        return [(t, d) for t, d in pairs if isinstance(t, Tensor)]

    if kind == T.CONV:
        if m.groups > 1:
            raise SparsearchError(f"trace_groups: grouped conv {dg._module2name.get(m, m)!r} "
                                  f"(groups={m.groups}) is not supported; {_DECLARE}")
        w_out, w_in = (1, 0) if m.transposed else (0, 1)
        return some((m.weight, w_out), (m.bias, 0)) if out_fn else some((m.weight, w_in))
    if kind == T.DEPTHWISE_CONV:  # one filter per channel: in- and out-channels are one slice
        return some((m.weight, 0), (m.bias, 0))
    if kind == T.LINEAR:
        return some((m.weight, 0), (m.bias, 0)) if out_fn else some((m.weight, 1))
    if kind in (T.BN, T.IN, T.GN, T.PRELU):
        # BN's running_mean/running_var are buffers: Torch-Pruning slices them too, so they are
        # members (num_batches_tracked is a scalar and is not).
        return [(t, 0) for t in m.state_dict(keep_vars=True).values() if t.dim() == 1 and t.numel() > 1]
    if kind == T.LN:
        return [(t, t.dim() - 1) for t in (m.weight, m.bias) if isinstance(t, Tensor)]
    if kind == T.EMBED:
        return some((m.weight, 1))
    if kind in (T.CONCAT, T.SPLIT, T.ELEMENTWISE, T.RESHAPE, T.UNBIND, T.EXPAND, T.SLICE, T.OUTPUT):
        return []  # parameter-free ops Torch-Pruning passes channels through
    if kind == T.PARAMETER:  # a bare nn.Parameter used functionally: Torch-Pruning guesses its dim
        raise SparsearchError(f"trace_groups: parameter {names.get(id(m), ['?'])[0]!r} is used outside a "
                              f"standard layer, so its channel dimension is a guess; {_DECLARE}")
    what = dg._module2name.get(m) or type(m).__name__
    raise SparsearchError(f"trace_groups: cannot map Torch-Pruning's {kind.name} node {what!r} to state-dict "
                          f"slices; {_DECLARE}")


def _group_of(dg, tp_group, names: dict[int, list[str]], state_names: list[str]) -> ChannelGroup | None:
    """A Torch-Pruning group as a ChannelGroup; None when the channels reach the model's output
    (the logits layer: removing them changes what the network returns)."""
    size = None
    members: dict[tuple[str, int], int] = {}
    for item in tp_group:
        dep, idxs = item.dep, list(item.idxs)
        node, handler = dep.target, dep.handler
        out_fn = dg.is_out_channel_pruning_fn(handler)
        if out_fn and not node.outputs:
            return None  # a node that carries the channels forward is a sink: they are outputs
        if size is None:  # the root: Torch-Pruning's group starts with the root layer's out-pruning
            size = len(idxs)
        roots = list(item.root_idxs)
        for t, dim in _layer_members(dg, node, out_fn and not dg.is_in_channel_pruning_fn(handler), names):
            dim = dim % t.dim()
            n = t.shape[dim]
            if n % size or idxs != list(range(n)) or roots != [i // (n // size) for i in range(n)]:
                what = names.get(id(t), ["?"])[0]
                raise SparsearchError(f"trace_groups: the channels of one group cover only part of {what!r} "
                                      f"dim {dim} (torch.cat/split or a reshape that is not channel-major), and groups "
                                      f"must span whole dimensions; {_DECLARE}, leaving these channels out")
            for name in names.get(id(t), []):
                members.setdefault((name, dim), n // size)
    order = {name: i for i, name in enumerate(state_names)}
    ranked = sorted(members.items(), key=lambda kv: (order[kv[0][0]], kv[0][1]))
    return ChannelGroup(size, tuple((name, dim, block) for (name, dim), block in ranked))


def _order(module: nn.Module, groups: list[ChannelGroup]) -> list[ChannelGroup]:
    rank = {name: i for i, (name, _) in enumerate(module.named_parameters())}
    return sorted(groups, key=lambda g: min((rank.get(n, len(rank)) for n, _, _ in g.members), default=len(rank)))


def trace_groups(module: nn.Module, example_input: Tensor) -> list[ChannelGroup]:
    """The prunable channel groups of `module`, traced with Torch-Pruning's DependencyGraph
    (Fang et al. 2023, "DepGraph: Towards Any Structural Pruning", CVPR) on one forward pass of
    `example_input`: the out-channel group of each Conv/Linear, except the layer producing the
    network's output, deduplicated (a residual add ties several convs into one group) and ordered
    by first appearance in `module.named_parameters()`. The module's train/eval flags are kept
    (tracing runs in eval mode, so BN statistics do not move)."""
    try:
        import torch_pruning as tp
    except ImportError as e:  # pragma: no cover - a dependency
        raise SparsearchError(f"trace_groups needs torch-pruning ({e}); install it or {_DECLARE}") from e

    modes = {m: m.training for m in module.modules()}
    ran: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda m, i, o: ran.append(m)) for m in module.modules() if isinstance(m, _LAYERS)]
    try:
        with torch.enable_grad():
            # A tuple: Torch-Pruning calls model(*example_inputs), which would unpack a bare
            # tensor along its batch dimension.
            dg = tp.DependencyGraph().build_dependency(module, example_inputs=(example_input,), verbose=False)
            tp_groups = list(dg.get_all_groups(root_module_types=(tp.ops.TORCH_CONV, nn.Linear)))
    except SparsearchError:
        raise
    except Exception as e:
        msg = " ".join(f"{type(e).__name__}: {e}".split())[:200]
        raise SparsearchError(f"trace_groups: Torch-Pruning cannot trace {type(module).__name__} ({msg}); "
                              f"{_DECLARE}") from e
    finally:
        for h in hooks:
            h.remove()
        for m, training in modes.items():
            m.train(training)
    lost = [m for m in dict.fromkeys(ran) if m not in dg.module2node]
    if lost or not dg.module2node:
        where = repr(dg._module2name.get(lost[0], "?")) if lost else "any layer"
        raise SparsearchError(f"trace_groups: Torch-Pruning cannot trace {type(module).__name__}: the autograd graph "
                              f"of its output does not reach {where} (no_grad, detach or numpy in forward?); "
                              f"{_DECLARE}")

    names = _aliases(module)
    groups, seen = [], set()
    for tp_group in tp_groups:
        g = _group_of(dg, tp_group, names, list(module.state_dict().keys()))
        if g is None or frozenset(g.members) in seen:
            continue
        seen.add(frozenset(g.members))
        groups.append(g)
    return _order(module, groups)


# ---------------------------------------------------------------- declared groups


def declared_groups(module: nn.Module, groups: list[list[tuple[str, int]]]) -> list[ChannelGroup]:
    """Check hand-written groups, for modules Torch-Pruning (Fang et al. 2023, DepGraph, CVPR)
    cannot trace. Each group lists (state-dict name, dim); the smallest size along those dims
    is the channel count, and a larger one must be a whole multiple of it (a linear layer after a
    flatten: block = H*W features per channel)."""
    state = module.state_dict()
    out = []
    for gi, group in enumerate(groups):
        if not isinstance(group, (list, tuple)) or not group:
            raise SparsearchError(f"declared_groups: group {gi} must be a non-empty list of (name, dim), got {group!r}")
        sizes = []
        for member in group:
            if not (isinstance(member, (list, tuple)) and len(member) == 2):
                raise SparsearchError(f"declared_groups: group {gi}: a member must be (name, dim), got {member!r}")
            name, dim = member
            if name not in state:
                raise SparsearchError(f"declared_groups: group {gi}: {name!r} is not in the module's state dict")
            t = state[name]
            if isinstance(dim, bool) or not isinstance(dim, int) or not 0 <= dim < t.dim():
                raise SparsearchError(f"declared_groups: group {gi}: dim {dim!r} of {name!r} is out of range "
                                      f"(tensor has {t.dim()} dims)")
            sizes.append(t.shape[dim])
        size = min(sizes)
        for (name, dim), n in zip(group, sizes):
            if n % size:
                raise SparsearchError(f"declared_groups: group {gi}: {name!r} dim {dim} has {n} entries, not a "
                                      f"multiple of the group's {size} channels")
        members = tuple((name, dim, n // size) for (name, dim), n in zip(group, sizes))
        if len({(n, d) for n, d, _ in members}) != len(members):
            raise SparsearchError(f"declared_groups: group {gi} lists a member twice: {list(group)!r}")
        out.append(ChannelGroup(size, members))
    return out


# ---------------------------------------------------------------- thinning


def thin(state: dict[str, Tensor], groups: list[ChannelGroup], keep: list[list[int]]) -> dict[str, Tensor]:
    """The state dict of the thinner network that keeps, in group g, the channels `keep[g]`
    (sorted, distinct): every member tensor index_selected along its dimension (a block member
    keeps each kept channel's block of features). Entries in no group are copied as they are.
    This is what Torch-Pruning's pruners (Fang et al. 2023, DepGraph, CVPR) do to the modules."""
    if len(keep) != len(groups):
        raise SparsearchError(f"thin: {len(keep)} keep lists for {len(groups)} groups")
    out = dict(state)
    for gi, (g, k) in enumerate(zip(groups, keep)):
        k = [int(c) for c in k]
        if k != sorted(set(k)) or (k and not 0 <= k[0] <= k[-1] < g.size):
            raise SparsearchError(f"thin: keep[{gi}] must be sorted distinct channels in 0..{g.size - 1}, got {k!r}")
        for i, (name, dim, _) in enumerate(g.members):
            if name not in state:
                raise SparsearchError(f"thin: group {gi} member {name!r} is not in the state dict")
            t = out[name]
            idx = torch.tensor(g.indices(i, k), dtype=torch.long, device=t.device)
            out[name] = t.index_select(dim, idx)
    return out
