"""One training step's losses and gradients for a population of any parent kind.

A parent may write its step out by hand (`loss_and_grads`, as the MLP does in
nets/mlp_step.py); any other parent, a user's own included, is differentiated by autograd
through its `forward`. Either way the gradients are accumulated into the optimizer's buffers
as `grads <- decay * grads + dL/dW` (engine/optim.py), and in bf16 the forward pass runs on
bf16 casts of the fp32 weights with the loss in fp32."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor

from ..nets.base import Params
from .optim import accumulate
from .precision import lowered

Forward = Callable[[Params, Tensor], Tensor]


def per_network_loss(forward: Forward, layers: Params, x: Tensor, y: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """Mean cross-entropy (with `label_smoothing`, as F.cross_entropy's) of each network on its
    own batch: x [P, B, F], y [P, B] -> [P]."""
    logits = forward(layers, x).float()
    losses = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none", label_smoothing=label_smoothing)
    return losses.view(y.shape).mean(1)


def autograd_loss_and_grads(forward: Forward, params: Params, x: Tensor, y: Tensor, grads: Params, decay: float,
                            dtype: torch.dtype = torch.float32, label_smoothing: float = 0.0) -> Tensor:
    """`loss_and_grads` for a parent known only by its `forward`; tensors the loss does not
    depend on (BatchNorm's statistics) get a zero gradient."""
    leaves = [tuple(t.detach().requires_grad_(True) for t in pair) for pair in params]
    losses = per_network_loss(forward, lowered(leaves, dtype), x.to(dtype), y, label_smoothing)
    losses.sum().backward()
    with torch.no_grad():
        for buffers, pair in zip(grads, leaves):
            for buffer, leaf in zip(buffers, pair):
                accumulate(buffer, torch.zeros_like(buffer) if leaf.grad is None else leaf.grad, decay)
    return losses.detach()


def loss_and_grads(parent, params: Params, x: Tensor, y: Tensor, grads: Params, decay: float,
                   dtype: torch.dtype = torch.float32, label_smoothing: float = 0.0) -> Tensor:
    """The losses [P] of one step of the stacked networks `params` of `parent` on their batches
    x [P, B, F], y [P, B]; gradients accumulated into `grads` as decay * grads + gradient."""
    own = getattr(parent, "loss_and_grads", None)
    if own is not None:
        return own(params, x, y, grads, decay, dtype, label_smoothing=label_smoothing)
    return autograd_loss_and_grads(training_forward(parent), params, x, y, grads, decay, dtype, label_smoothing)


def training_forward(parent) -> Forward:
    """The parent's forward in training mode (normalization layers on batch statistics)."""
    return partial(parent.forward, train=True)
