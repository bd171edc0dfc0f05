"""Weight masks of a population: pruned weights are set to exactly zero before training and
again after every optimizer step (so momentum cannot revive them), and masks may change during
training through per-network hooks (gradual pruning).

The forward pass uses the weights as they are, with no multiply by the mask: pruned weights are
already zero there, so the logits are bitwise those of `w * mask`, and so is the gradient of
every kept weight. Pruned weights receive a gradient (and SGD/Adam state) of their own, but the
optimizers are elementwise and the weight is zeroed after each step, so no kept weight and no
result changes; the step saves a multiply per layer forward and backward."""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from ..nets.base import Params


class StepHook(Protocol):
    """Called after every optimizer step (counted from 1) with one network's masked weights
    and bool masks, shaped like each layer's weight; returns its new bool masks, or None to keep them."""

    def __call__(self, step: int, weights: list[Tensor], masks: list[Tensor]) -> list[Tensor] | None: ...


class Masking:
    def __init__(self, masks: list[Tensor], hooks: list[StepHook | None] | None = None):
        """`masks`: one bool tensor per layer, shaped like its stacked weight; `hooks`: one per
        network, or None."""
        self.masks = [m.to(torch.float32) for m in masks]
        self.hooks = hooks if hooks is not None and any(h is not None for h in hooks) else None
        self.step = 0

    @torch.no_grad()
    def zero_pruned(self, layers: Params) -> None:
        for layer, m in zip(layers, self.masks):
            layer[0].mul_(m)

    @torch.no_grad()
    def after_step(self, layers: Params) -> None:
        self.step += 1
        if self.hooks is not None:
            for p, hook in enumerate(self.hooks):
                if hook is None:
                    continue
                new = hook(self.step, [layer[0][p] for layer in layers], [m[p].bool() for m in self.masks])
                if new is not None:
                    for m, layer_mask in zip(self.masks, new):
                        m[p] = layer_mask.to(m.device, m.dtype)
        self.zero_pruned(layers)

    def final(self) -> list[Tensor]:
        """The masks now, as bool tensors shaped like the stacked weights."""
        return [m.bool() for m in self.masks]
