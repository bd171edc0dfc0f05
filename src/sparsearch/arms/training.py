"""Training an arm may need before it can choose a mask (the trained dense parent, lottery
rounds), through the same population engine, cached per run so arms and sparsities share it."""

from __future__ import annotations

from ..engine.trainer import Curves, train_population
from ..nets.mlp import Layers
from ..spaces.weight import WeightMask
from .base import MaskRequest


def train_alone(request: MaskRequest, start: Layers, mask: WeightMask | None = None, snapshot_epoch=None) -> Curves:
    """Train one network of this seed (its data order, the recipe's epochs) from `start`."""
    layers = [(w.unsqueeze(0), b.unsqueeze(0)) for w, b in start]
    masks = None if mask is None else [m.unsqueeze(0) for m in mask.layers]
    return train_population(
        layers, [request.seed], request.data, request.config.train, masks=masks, snapshot_epoch=snapshot_epoch,
        max_memory=request.config.engine.max_memory,
    )


def first(layers: Layers) -> Layers:
    """The only network of a population of one, unstacked."""
    return [(w[0], b[0]) for w, b in layers]


def trained_parent(request: MaskRequest, snapshot_epoch: int | None = None) -> tuple[Layers, Layers | None]:
    """The seed's dense parent after training with the recipe, and (if asked) after
    `snapshot_epoch` epochs. Cached per run."""
    key = ("trained-parent", request.seed, snapshot_epoch)
    if key not in request.cache:
        curves = train_alone(request, request.parent, snapshot_epoch=snapshot_epoch)
        request.cache[key] = (first(curves.final), first(curves.snapshot) if curves.snapshot else None)
    return request.cache[key]


def trained_spec(request: MaskRequest, epochs: int) -> dict:
    """The start spec of weights obtained by training this seed's dense parent `epochs` epochs."""
    return {"trained_parent": request.seed, "epochs": epochs}
