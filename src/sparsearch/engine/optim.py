"""Optimizers of the engine.

`make_optimizer` is the recipe's torch optimizer over separate tensors (the super-network and
the benchmark's reference loops use it). `FlatOptimizer` holds a whole population in one flat
fp32 buffer, with per-layer views, and steps it with one pass per update term:

- SGD with momentum keeps its momentum buffer in the gradient buffer itself. A training step
  accumulates its gradient as `grad <- momentum * grad + dL/dW` (the weight-gradient GEMM does
  that through its beta, `baddbmm_`), so after the step the buffer already holds PyTorch's
  `buf = momentum * buf + g`; weight decay adds `wd * p` to it, and the update is
  `p -= lr * buf`: the same algorithm as `torch.optim.SGD` (dampening 0, not Nesterov), one
  rounding fewer per element.
- Adam, AdamW and Nesterov SGD step the flat buffer with `torch.optim.Adam`, `AdamW` or
  `SGD(nesterov=True)` (the buffer holds dL/dW: Nesterov's update needs the gradient apart
  from the momentum).

Every step uses the rate the recipe's schedule gives its global step (engine/schedule.py).
`state()` gives the optimizer's buffers in the parameters' layout (the momentum; Adam's two
moments), and a new optimizer given them and the steps taken continues the same training
exactly (tests/test_engine.py: k epochs, then the rest, equal all epochs at once).

Every update is elementwise, so a network's numbers do not depend on its population
(tests/test_engine.py trains networks together and alone and compares them bitwise)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..config import TrainConfig
from ..nets.base import Params, cloned
from .schedule import learning_rate, set_learning_rate


def make_optimizer(params: list[Tensor], recipe: TrainConfig) -> torch.optim.Optimizer:
    """The recipe's optimizer over stacked parameters (elementwise, so per-network exact), at the
    base rate: its users set each step's rate (`schedule.set_learning_rate`).

    torch's default (foreach) kernels, not the fused ones: fused SGD is ~7% faster here but its
    results depend on an element's position in the stacked tensor, which would make a network's
    numbers depend on its population (measured with torch 2.13 CPU)."""
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(params, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay,
                               nesterov=recipe.nesterov)
    adam = torch.optim.AdamW if recipe.optimizer == "adamw" else torch.optim.Adam
    return adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay)


def accumulate(buffer: Tensor, new: Tensor, decay: float) -> None:
    """The gradient-buffer rule every training step follows: buffer <- decay * buffer + new
    (`new` may be bf16; with decay 0 the buffer is overwritten, so no NaN survives in it)."""
    if decay == 0:
        buffer.copy_(new)
    else:
        torch.add(new, buffer, alpha=decay, out=buffer)


def _flat(layers: Params) -> Tensor:
    return torch.cat([t.detach().reshape(-1) for pair in layers for t in pair]).float()


def _views(buffer: Tensor, shapes: list[tuple[torch.Size, ...]]) -> Params:
    out, offset = [], 0
    for pair in shapes:
        views = []
        for shape in pair:
            size = math.prod(shape)
            views.append(buffer[offset : offset + size].view(shape))
            offset += size
        out.append(tuple(views))
    return out


class FlatOptimizer:
    """A population's parameters (copies of `layers`), their gradient buffer and the recipe's
    optimizer; `params` and `grads` are per-layer views into the flat buffers."""

    MOMENTS = {"sgd": ("momentum_buffer",), "adam": ("exp_avg", "exp_avg_sq"), "adamw": ("exp_avg", "exp_avg_sq")}
    """The state torch's optimizer keeps per parameter, in the order `state()` gives it."""

    def __init__(self, layers: Params, recipe: TrainConfig, steps_per_epoch: int, state: list[Params] | None = None,
                 steps_taken: int = 0):
        """`state` (from `state()`) and `steps_taken` continue a training; without, it starts.
        `steps_per_epoch` places each step in its epoch for the schedule."""
        self.shapes = [tuple(t.shape for t in layer) for layer in layers]
        self.flat = _flat(layers)
        self.grad = torch.zeros_like(self.flat)
        self.params: Params = _views(self.flat, self.shapes)
        self.grads: Params = _views(self.grad, self.shapes)
        self.recipe = recipe
        self.steps_per_epoch = steps_per_epoch
        self.steps = steps_taken
        """Optimizer steps taken so far: the next step's index in the whole training."""
        in_buffer = recipe.optimizer == "sgd" and not recipe.nesterov
        self.decay = recipe.momentum if in_buffer else 0.0
        """What a step multiplies the gradient buffer by before adding its gradient."""
        self._torch = None
        if not in_buffer:
            self.flat.grad = self.grad
            self._torch = make_optimizer([self.flat], recipe)
            if state:
                names = self.MOMENTS[recipe.optimizer]
                self._torch.state[self.flat] = {
                    **({} if recipe.optimizer == "sgd" else {"step": torch.tensor(float(steps_taken))}),
                    **{name: _flat(s) for name, s in zip(names, state)}}
        elif state and self.decay:
            self.grad.copy_(_flat(state[0]))

    def state(self) -> list[Params]:
        """Copies of the optimizer's buffers, each shaped like the parameters: SGD's momentum
        (none without momentum), Adam's first and second moments (none before a step)."""
        if self._torch is not None:
            moments = self._torch.state.get(self.flat, {})
            return [cloned(_views(moments[name], self.shapes)) for name in self.MOMENTS[self.recipe.optimizer]
                    if name in moments]
        return [cloned(self.grads)] if self.decay else []

    @torch.no_grad()
    def step(self) -> None:
        lr = learning_rate(self.recipe, self.steps, self.steps_per_epoch)
        self.steps += 1
        if self._torch is not None:
            set_learning_rate(self._torch, lr)
            self._torch.step()
            return
        if self.recipe.weight_decay:
            self.grad.add_(self.flat, alpha=self.recipe.weight_decay)
        self.flat.add_(self.grad, alpha=-lr)

    def snapshot(self) -> Params:
        """Detached copies of the parameters now."""
        return cloned(self.params)
