"""Train a weight-sharing super-network with the sandwich rule and in-place distillation
(BigNAS, Yu et al. 2020; Once-for-All, Cai et al. 2020).

Each step samples the largest, the smallest and `sandwich` random sub-networks, runs them
together as one population in the masked layout (the shared tensors expanded and multiplied
by each sub-network's 0/1 multipliers, supernet/masking.py) through the parent kind's own
`forward`, differentiated by autograd (BatchNorm on batch statistics), and sums their weighted
losses: cross-entropy for the largest, and with `distill` the KL divergence to the largest's
(detached) predictions for the others (the students), else cross-entropy. BigNAS accumulates the
sampled sub-networks' gradients before one optimizer step; we then divide each shared element's
gradient by the summed loss weights of the sampled sub-networks that use it (`shares`), so every
weight steps with the weighted mean gradient of the sub-networks containing it and the recipe's
learning rate means what it means for one network (our deviation). Measured on digits
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
(engine/device.py) and comes back on the CPU. With `sort_channels` every group's units are
reordered by importance after each epoch (supernet/sorting.py). The per-epoch accuracies of the largest and
smallest sub-networks are inherited scores (supernet/evaluate.py: BatchNorm recalibrated for
each)."""

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
from ..engine.trainer import batch_orders, steps_per_epoch
from ..nets.base import Parent, Params
from ..seeding import generator
from ..spaces.elastic import ElasticSpace
from .evaluate import inherited_scores
from .masking import Multipliers, masked
from .sorting import UnitSorter


def shares(multipliers: Params, weights: Tensor) -> Params:
    """The summed loss `weights` [K] of the sub-networks of these multipliers that use each
    shared element: the weighted sum of their multipliers."""
    return [tuple(torch.tensordot(weights, m, dims=1) for m in layer) for layer in multipliers]


def normalize_gradients(shared: Params, uses: Params) -> None:
    """Divide each shared element's gradient by its `shares`, in place: it then holds the
    weighted mean gradient of the sub-networks that use it (an element none uses, beyond the
    largest width below 1, keeps its zero gradient); a tensor without a gradient (BatchNorm's
    running statistics) is left alone."""
    with torch.no_grad():
        for layer, layer_uses in zip(shared, uses):
            for t, u in zip(layer, layer_uses):
                if t.grad is not None:
                    t.grad.div_(torch.where(u > 0, u, torch.ones_like(u)))


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


def train_supernet(parent: Parent, params: Params, space: ElasticSpace, data: Dataset, config: Config, seed: int,
                   on_epoch=None) -> tuple[Params, dict]:
    """Train the super-network of `parent` from `params` (this seed's initialisation, unstacked);
    return its weights and per-epoch validation accuracy of the largest and smallest sub-networks
    (BatchNorm recalibrated for each)."""
    device = resolve_device(config.engine.device)
    data = dataset_on(data, device)
    shared = [tuple(t.clone().requires_grad_(True) for t in layer) for layer in moved(params, device)]
    multipliers = Multipliers(parent, params, space, device)
    sorter = UnitSorter(parent, params, space) if config.supernet.sort_channels else None
    recipe = config.train.model_copy(update={"epochs": config.supernet.epochs})
    optimizer = make_optimizer([t for layer in shared for t in layer], recipe)
    n = data.x_train.shape[0]
    batches = batch_orders([seed], n, recipe.batch_size, device)
    gen = generator("sandwich", seed)
    ends = np.stack([space.largest(), space.smallest()])
    dtype = dtype_of(config.engine.precision)
    curves = {"largest_val_acc": [], "smallest_val_acc": []}
    weights = sandwich_weights(config.supernet.sandwich + 2, config.supernet.largest_weight).to(device)
    per_epoch = steps_per_epoch(n, recipe.batch_size)
    for epoch in range(recipe.epochs):
        for step in range(per_epoch):
            set_learning_rate(optimizer, learning_rate(recipe, epoch * per_epoch + step, per_epoch))
            idx = next(batches)[0]
            chosen = multipliers.of(sandwich_configs(space, config.supernet.sandwich, gen))
            logits = parent.forward(lowered(masked(shared, chosen), dtype), data.x_train[idx].to(dtype),
                                    train=True).float()
            loss = sandwich_loss(logits, data.y_train[idx], config.supernet.distill, weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            normalize_gradients(shared, shares(chosen, weights))
            optimizer.step()
        if sorter is not None:
            sorter.sort(shared, optimizer)
        acc, _ = inherited_scores(parent, shared, multipliers, ends, data, data.x_val, data.y_val,
                                  config.engine.max_memory, dtype)
        curves["largest_val_acc"].append(float(acc[0]))
        curves["smallest_val_acc"].append(float(acc[1]))
        if on_epoch is not None:
            on_epoch(1)
    return on_cpu([tuple(t.detach() for t in layer) for layer in shared]), curves
