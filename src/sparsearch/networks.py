"""A stored trial's network as a ready `nn.Module`: for a node mask the compacted (thinner)
network; for a weight mask the parent's shapes with `torch.nn.utils.prune` `weight_mask`
buffers on the masked layers."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .nets import Parent, from_spec
from .nets.base import Params, rows
from .spaces.node import NodeMask
from .spaces.weight import WeightMask
from .store import Store


@dataclass(frozen=True)
class TrialParts:
    """What a trial's network is built from: its stored record, parent, (compacted) parameters
    and weight mask (None in the node space)."""

    trial: dict
    parent: Parent
    params: Params
    weight_mask: WeightMask | None

    def module(self) -> nn.Module:
        return self.parent.module(self.params, self.weight_mask).eval()


def trial_parts(store: Store, trial_key: str, *, stored_weights: bool = True) -> TrialParts:
    """Trial `trial_key`'s parts with its final weights (which need `[store] save_weights =
    true`); with `stored_weights=False` and none stored, with the parent's initialisation under
    the trial's mask instead: the same architecture and sparsity pattern, which is all a timing
    depends on."""
    trial = store.trial(trial_key)
    parent = from_spec(trial["spec"]["parent"])
    mask = trial["mask"]
    weight_mask = WeightMask.from_json(mask) if isinstance(mask, dict) and mask.get("space") == "weight" else None
    if stored_weights or store.keys_with_weights([trial_key]):
        params = parent.from_state_dict(store.weights(trial_key))
    elif weight_mask is not None:
        params = parent.init(trial["spec"]["order_seed"])
    else:
        node_mask = NodeMask(tuple(tuple(layer) for layer in mask))
        params = rows(parent.compact(parent.init(trial["spec"]["order_seed"]), [node_mask]), 0)
    return TrialParts(trial, parent, params, weight_mask)


def trial_network(store: Store, trial_key: str, *, stored_weights: bool = True) -> nn.Module:
    """Trial `trial_key`'s network in eval mode (`trial_parts`)."""
    return trial_parts(store, trial_key, stored_weights=stored_weights).module()
