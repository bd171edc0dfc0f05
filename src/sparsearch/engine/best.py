"""Each network's weights at its best validation epoch so far, kept beside its population.

A trial's headline `test_acc` is its test accuracy at the first epoch of its highest validation
accuracy (early stopping on a validation set, Prechelt 1998, "Early Stopping - But When?"); these
are the weights that number belongs to. After every evaluation a network whose validation
accuracy rose above its best is copied, elementwise (`torch.where` on its rows), so what is kept
for one network never depends on the others of its population. A parent with BatchNorm has
calibrated its statistics before the evaluation, and they are parameters: they are copied with
the weights. Where hooks change the weight masks during training (gradual pruning), the masks of
that epoch are kept too, since the final ones may prune weights the best network still has."""

from __future__ import annotations

import torch
from torch import Tensor

from ..nets.base import Params, cloned
from .masking import Masking


def _select(improved: Tensor, now: Tensor, kept: Tensor) -> Tensor:
    """`now`'s rows where `improved` [P], else `kept`'s."""
    return torch.where(improved.view(-1, *[1] * (now.dim() - 1)), now, kept)


class BestWeights:
    """The weights (and, under hooks, the weight masks) of each network at its best validation
    epoch so far; before the first evaluation, its starting weights."""

    def __init__(self, params: Params, masking: Masking | None):
        self.accuracy = torch.full((params[0][0].shape[0],), -1.0, device=params[0][0].device)
        self.params = cloned(params)
        self.masks = None if masking is None or masking.hooks is None else [m.clone() for m in masking.masks]

    @torch.no_grad()
    def update(self, accuracy: Tensor, params: Params, masking: Masking | None) -> None:
        """Keep the networks whose validation `accuracy` [P] is above their best (the first
        epoch of a tie stays)."""
        improved = accuracy > self.accuracy
        self.accuracy = torch.where(improved, accuracy, self.accuracy)
        for kept, now in zip(self.params, params):
            for k, n in zip(kept, now):
                k.copy_(_select(improved, n, k))
        if self.masks is not None:
            for k, n in zip(self.masks, masking.masks):
                k.copy_(_select(improved, n, k))

    def bool_masks(self) -> list[Tensor] | None:
        return None if self.masks is None else [m.bool() for m in self.masks]
