"""Train a weight-sharing super-network with the sandwich rule and in-place distillation
(BigNAS, Yu et al. 2020; Once-for-All, Cai et al. 2020).

Each step samples the largest, the smallest and `sandwich` random sub-networks, runs them
together as one population in the masked layout (the shared weights expanded and multiplied
by each sub-network's unit masks, one `bmm` per layer), and sums their weighted losses:
cross-entropy for the largest, and with `distill` the KL divergence to the largest's (detached)
predictions for the others (the students), else cross-entropy. BigNAS accumulates the sampled
sub-networks' gradients before one optimizer step; we then divide each shared weight's (and
bias's) gradient by the summed loss weights of the sampled sub-networks that use it (`shares`),
so every weight steps with the weighted mean gradient of the sub-networks containing it and the
recipe's learning rate means what it means for one network (our deviation). Measured on digits
(docs/results.md): averaging the loss over all K sub-networks instead gave the largest
sub-network's own weights only 1/K of its gradient (38% validation accuracy after 5 epochs where
the network alone reaches 89%), and the plain sum diverged for one of eight seeds (the first
units, shared by all sub-networks, stepped with K times the learning rate).

The largest's loss weighs `[supernet] largest_weight` against each student's 1; by default as
much as all students together (our deviation from BigNAS's plain sum, where the weights every
sub-network shares step with the mean of four gradients, three of them distillation towards
the largest's own predictions, so the largest learns from the labels at a quarter of the
learning rate there: on MNIST-1D, 8 seeds, its largest sub-network reached 40.2% validation
accuracy where the network alone reaches 60.7%; with the default 60.7%, docs/results.md).
Once-for-All's progressive shrinking likewise trains the largest network alone before any
sub-network shares its weights.
In bf16 (`[engine] precision`) the sub-networks run on bf16 casts of the fp32 shared weights,
the losses in fp32. The optimizer and the learning-rate schedule are the recipe's
(engine/schedule.py; a cosine anneals over `[supernet] epochs`); label smoothing and
augmentation are refused (kind.py). The super-network trains on `[engine] device`
(engine/device.py) and comes back on the CPU."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import Config
from ..data import Dataset
from ..engine.device import dataset_on, moved, on_cpu, resolve_device
from ..engine.optim import make_optimizer
from ..engine.precision import dtype_of, lowered
from ..engine.schedule import learning_rate, set_learning_rate
from ..engine.trainer import batch_orders, evaluate, steps_per_epoch
from ..nets.mlp import MLP, Layers, forward
from ..seeding import generator
from ..spaces.elastic import ElasticSpace


def unit_masks(layers: Layers, space: ElasticSpace, configs) -> list[tuple[Tensor, Tensor]]:
    """Per layer, float [K, in] and [K, out] masks of the units each configuration keeps."""
    device = layers[0][0].device
    units = [u.to(device) for u in space.unit_masks(configs)]
    k = len(configs)
    ones_in = torch.ones(k, layers[0][0].shape[0], device=device)
    ones_out = torch.ones(k, layers[-1][0].shape[1], device=device)
    return list(zip([ones_in, *units], [*units, ones_out]))


def masked(layers: Layers, masks: list[tuple[Tensor, Tensor]]) -> Layers:
    """The sub-networks of these unit masks in the masked layout: [K, in, out], differentiable
    with respect to the shared `layers` (unstacked)."""
    return [
        (w.unsqueeze(0) * (m_in.unsqueeze(2) * m_out.unsqueeze(1)), b.unsqueeze(0) * m_out)
        for (w, b), (m_in, m_out) in zip(layers, masks)
    ]


def sub_networks(layers: Layers, space: ElasticSpace, configs) -> Layers:
    """The sub-networks of `configs` in the masked layout (see `masked`)."""
    return masked(layers, unit_masks(layers, space, configs))


def shares(masks: list[tuple[Tensor, Tensor]], weights: Tensor) -> Layers:
    """The summed loss `weights` [K] of the sub-networks of these unit masks that use each
    shared weight [in, out] and bias [out] (positive when they include the largest)."""
    return [((weights[:, None] * m_in).T @ m_out, weights @ m_out) for m_in, m_out in masks]


def mean_gradients(layers: Layers, masks: list[tuple[Tensor, Tensor]], weights: Tensor) -> None:
    """Divide the accumulated gradient of every shared weight and bias by its `shares`, in place:
    each then holds the `weights`-weighted mean gradient of the sub-networks that use it."""
    with torch.no_grad():
        for (w, b), (w_uses, b_uses) in zip(layers, shares(masks, weights)):
            w.grad.div_(w_uses)
            b.grad.div_(b_uses)


def sandwich_weights(k: int, largest_weight: float | str) -> Tensor:
    """Loss weights [k] of a step's sub-networks: the largest's (row 0) `largest_weight`,
    "students" meaning k - 1, each student's 1."""
    weights = torch.ones(k)
    weights[0] = k - 1 if largest_weight == "students" else largest_weight
    return weights


def sandwich_configs(space: ElasticSpace, sandwich: int, gen: torch.Generator):
    """Largest, smallest and `sandwich` random configurations."""
    return np.concatenate([space.largest()[None], space.smallest()[None], space.sample(gen, sandwich)])


def sandwich_loss(logits: Tensor, y: Tensor, distill: bool, weights: Tensor) -> Tensor:
    """`weights` [K]-weighted sum of a step's sub-networks' losses; row 0 of `logits` [K, B, C]
    is the largest."""
    loss = weights[0] * F.cross_entropy(logits[0], y)
    students = logits[1:]
    if students.shape[0]:
        if distill:
            teacher = F.softmax(logits[0].detach(), dim=-1).expand_as(students)
            each = F.kl_div(F.log_softmax(students, -1), teacher, reduction="none").sum(-1).mean(-1)
        else:
            target = y.expand(students.shape[0], -1)
            each = F.cross_entropy(students.transpose(1, 2), target, reduction="none").mean(-1)
        loss = loss + weights[1:] @ each
    return loss


def train_supernet(parent: Layers, space: ElasticSpace, data: Dataset, config: Config, seed: int,
                   on_epoch=None) -> tuple[Layers, dict]:
    """Train the super-network from `parent` (this seed's initialisation); return its weights
    and per-epoch validation accuracy of the largest and smallest sub-networks."""
    device = resolve_device(config.engine.device)
    data = dataset_on(data, device)
    layers = [(w.clone().requires_grad_(True), b.clone().requires_grad_(True)) for w, b in moved(parent, device)]
    recipe = config.train.model_copy(update={"epochs": config.supernet.epochs})
    optimizer = make_optimizer([t for pair in layers for t in pair], recipe)
    n = data.x_train.shape[0]
    batches = batch_orders([seed], n, recipe.batch_size, device)
    gen = generator("sandwich", seed)
    ends = [space.largest(), space.smallest()]
    dtype = dtype_of(config.engine.precision)
    curves = {"largest_val_acc": [], "smallest_val_acc": []}
    weights = sandwich_weights(config.supernet.sandwich + 2, config.supernet.largest_weight).to(device)
    per_epoch = steps_per_epoch(n, recipe.batch_size)
    for epoch in range(recipe.epochs):
        for step in range(per_epoch):
            set_learning_rate(optimizer, learning_rate(recipe, epoch * per_epoch + step, per_epoch))
            idx = next(batches)[0]
            masks = unit_masks(layers, space, sandwich_configs(space, config.supernet.sandwich, gen))
            logits = forward(lowered(masked(layers, masks), dtype), data.x_train[idx].to(dtype)).float()
            loss = sandwich_loss(logits, data.y_train[idx], config.supernet.distill, weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            mean_gradients(layers, masks, weights)
            optimizer.step()
        with torch.no_grad():
            ends_layers = sub_networks(layers, space, ends)
            _, acc = evaluate(MLP.of(ends_layers), ends_layers, data.x_val, data.y_val, dtype)
        curves["largest_val_acc"].append(float(acc[0]))
        curves["smallest_val_acc"].append(float(acc[1]))
        if on_epoch is not None:
            on_epoch(1)
    return on_cpu([(w.detach(), b.detach()) for w, b in layers]), curves
