"""A stored trial's network as a ready `nn.Module`: for a node mask the compacted (thinner)
network; for a weight mask the parent's shapes with `torch.nn.utils.prune` `weight_mask`
buffers on the masked layers.

Which network: `best` (the default), the weights at the trial's best validation epoch, whose
test accuracy is the trial's `test_acc`; or `final`, those at the end of its training
(`final_test_acc`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import Tensor, nn

from .errors import SparsearchError
from .nets import Parent, from_spec
from .nets.base import Params, rows
from .spaces.node import NodeMask
from .spaces.weight import WeightMask
from .store import Store, TrialWeights

Which = Literal["best", "final"]
WHICH = ("best", "final")


def check_which(which: object) -> None:
    if which not in WHICH:
        raise SparsearchError(f"which: a trial's network is 'best' (its best validation epoch, test_acc) or 'final' "
                              f"(its last epoch, final_test_acc), got {which!r}")


def chosen(trial: dict, weights: TrialWeights, which: Which) -> tuple[dict[str, Tensor], list[Tensor] | None] | None:
    """The state dict of network `which` of `trial` and, where they differ from the trial's, its
    weight masks; None where the best network is not among `weights` (kept by an older
    sparsearch, which stored the final weights alone). The best weights are stored apart only
    where the best validation epoch is not the last; otherwise they are the final ones."""
    if which == "final":
        return weights.final, None
    if weights.best is not None:
        return weights.best, weights.best_masks
    if trial["best_epoch"] == len(trial["curves"]["val_acc"]):
        return weights.final, None
    return None


def stored_network(store: Store, trial_key: str, which: Which) -> TrialWeights | None:
    """Trial `trial_key`'s stored weights if they hold network `which`, else None."""
    if not store.keys_with_weights([trial_key]):
        return None
    weights = store.weights(trial_key)
    return weights if chosen(store.trial(trial_key), weights, which) is not None else None


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


def trial_parts(store: Store, trial_key: str, *, which: Which = "best", weights: TrialWeights | None = None,
                stored_weights: bool = True) -> TrialParts:
    """Trial `trial_key`'s parts with network `which`'s weights: `weights` if given (a rebuilt
    trial's), else the stored ones; with `stored_weights=False` and none stored, the parent's
    initialisation under the trial's mask instead: the same architecture and sparsity pattern,
    which is all a timing depends on."""
    check_which(which)
    trial = store.trial(trial_key)
    parent = from_spec(trial["spec"]["parent"])
    mask = trial["mask"]
    weight_mask = WeightMask.from_json(mask) if isinstance(mask, dict) and mask.get("space") == "weight" else None
    if weights is None and (stored_weights or store.keys_with_weights([trial_key])):
        weights = store.weights(trial_key)
    if weights is not None:
        found = chosen(trial, weights, which)
        if found is None:
            raise SparsearchError(f"trial {trial_key!r} was stored with its final weights alone (by an older "
                                  f"sparsearch); load_network(..., which='best') rebuilds its best ones, or pass "
                                  f"which='final'")
        state, best_masks = found
        params = parent.from_state_dict(state)
        if best_masks is not None:
            weight_mask = WeightMask(tuple(best_masks))
    elif weight_mask is not None:
        params = parent.init(trial["spec"]["order_seed"])
    else:
        node_mask = NodeMask(tuple(tuple(layer) for layer in mask))
        params = rows(parent.compact(parent.init(trial["spec"]["order_seed"]), [node_mask]), 0)
    return TrialParts(trial, parent, params, weight_mask)


def trial_network(store: Store, trial_key: str, *, which: Which = "best", weights: TrialWeights | None = None,
                  stored_weights: bool = True) -> nn.Module:
    """Trial `trial_key`'s network in eval mode (`trial_parts`)."""
    return trial_parts(store, trial_key, which=which, weights=weights, stored_weights=stored_weights).module()
