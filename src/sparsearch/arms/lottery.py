"""`lottery`: iterative magnitude pruning with rewinding (Frankle & Carbin 2019, "The Lottery
Ticket Hypothesis"; rewinding to epoch k: Frankle et al. 2020, "Linear Mode Connectivity and
the Lottery Ticket Hypothesis").

Per seed, one pruning trajectory serves every target sparsity: train, remove
`search.prune_rate` of the remaining weights by magnitude (`search.allocation`), rewind the
survivors to the rewind point (init, or the dense parent after `search.rewind_epoch` epochs),
retrain, and so on; when the next round would pass a target, the last trained weights are
pruned to exactly that target. The winning ticket (mask at the target, weights at the rewind
point) is the trial. Unlike the paper, the output layer is pruned like the others.
"""

from __future__ import annotations

from ..nets.mlp import Layers
from ..pruning import magnitude_scores, mask_from_scores
from ..spaces.weight import WeightMask, full_weight_mask
from .base import MaskRequest, SparseArm, TrialPlan
from .training import first, train_alone, trained_parent, trained_spec


class Lottery(SparseArm):
    name = "lottery"
    spaces = ("weight",)

    def plan(self, request: MaskRequest) -> TrialPlan:
        start, spec = rewind_point(request)
        return TrialPlan(ticket(request), start, spec)


def rewind_point(request: MaskRequest):
    """(weights, start spec) the ticket is rewound to: init, or the dense parent at epoch k."""
    k = request.config.search.rewind_epoch
    if k == 0:
        return request.parent, {"init": request.seed}
    return trained_parent(request, snapshot_epoch=k)[1], trained_spec(request, k)


def ticket(request: MaskRequest) -> WeightMask:
    """The lottery mask of this seed at this sparsity (the trajectory is computed once per seed)."""
    key = ("lottery", request.seed)
    if key not in request.cache:
        request.cache[key] = _trajectory(request)
    return request.cache[key][request.sparsity]


def _trajectory(request: MaskRequest) -> dict[float, WeightMask]:
    search = request.config.search
    start, _ = rewind_point(request)
    trained, _ = trained_parent(request, snapshot_epoch=search.rewind_epoch or None)
    mask, sparsity = full_weight_mask(request.widths), 0.0
    tickets = {}
    for target in search.sparsities:
        while True:
            following = 1 - (1 - sparsity) * (1 - search.prune_rate)
            final = following >= target
            pruned = prune_smallest(trained, mask, target if final else following, search.allocation)
            if final:
                tickets[target] = pruned
                break
            mask, sparsity = pruned, following
            trained = first(train_alone(request, start, mask).final)
    return tickets


def prune_smallest(weights: Layers, mask: WeightMask, sparsity: float, allocation: str) -> WeightMask:
    """Remove the smallest surviving weights until `sparsity`; pruned weights stay pruned."""
    scores = [s.masked_fill(~m, -float("inf")) for s, m in zip(magnitude_scores(weights), mask.layers)]
    return WeightMask(tuple(mask_from_scores(scores, sparsity, allocation)))
