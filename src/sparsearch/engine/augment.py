"""Augmentation of training batches of images (`[data] augment`): the random crop with zero
padding and the horizontal flip of He et al. 2016 (section 4.2: "4 pixels are padded on each
side, and a 32x32 crop is randomly sampled from the padded image or its horizontal flip").

The padding is a side's eighth, at least 1 pixel: 4 for 32x32 CIFAR images, 3 for 28x28 MNIST,
1 for 8x8 digits. It pads with zeros of the standardized features, the per-pixel training mean,
as He et al. pad after subtracting it. The crop comes first, then the flip (p = 0.5).

The draws of a step are a function of (seed, epoch, step) alone: a generator seeded by them
gives each example of the batch its crop offsets (two integers in 0..2 x padding; 0 without
"crop") and its flip (0 or 1; flipped only with "flip"). Networks of one seed read the same
examples in the same order (`batch_orders`), so they see the same augmented batches whatever
population they train in and whatever else trains: the pairing by seed holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import SparsearchError
from ..seeding import generator

KINDS = ("crop", "flip")


def padding(shape: tuple[int, ...]) -> int:
    """The crop's zero padding of images [channels, height, width]: a side's eighth, at least 1."""
    return max(1, min(shape[1:]) // 8)


def check_images(augment: Sequence[str], shape: tuple[int, ...]) -> None:
    """Refuse augmentation of data whose examples are not images [channels, height, width]."""
    if augment and len(shape) != 3:
        raise SparsearchError(f"data.augment: {list(augment)} needs images [channels, height, width]; the data's "
                              f"examples have shape {list(shape)} (use augment = [] for these data)")


def draws(seed: int, epoch: int, step: int, batch: int, pad: int) -> tuple[Tensor, Tensor]:
    """(crop offsets int64 [batch, 2] (row, column) in 0..2 pad, flips int64 [batch] in {0, 1}) of
    one step of one seed."""
    gen = generator("augment", seed, epoch, step)
    offsets = torch.randint(0, 2 * pad + 1, (batch, 2), generator=gen)
    return offsets, torch.randint(0, 2, (batch,), generator=gen)


@dataclass(frozen=True)
class Augmentation:
    """The augmentation of a population's training batches: `augment` (a subset of KINDS) of
    images of `shape`, each network drawing with its own seed of `order_seeds`."""

    augment: tuple[str, ...]
    shape: tuple[int, ...]
    order_seeds: tuple[int, ...]

    def __call__(self, x: Tensor, epoch: int, step: int) -> Tensor:
        """The batches x [P, B, features] of step `step` of epoch `epoch` (both from 0), augmented."""
        population, batch = x.shape[:2]
        channels, height, width = self.shape
        pad = padding(self.shape) if "crop" in self.augment else 0
        unique = sorted(set(self.order_seeds))
        drawn = [draws(seed, epoch, step, batch, pad) for seed in unique]
        which = torch.tensor([unique.index(s) for s in self.order_seeds])
        offsets = torch.stack([o for o, _ in drawn])[which].to(x.device)
        flips = torch.stack([f for _, f in drawn])[which].to(x.device).bool() & ("flip" in self.augment)
        images = F.pad(x.view(population, batch, channels, height, width), (pad, pad, pad, pad))
        rows = offsets[..., 0, None] + torch.arange(height, device=x.device)  # [P, B, H]
        cols = offsets[..., 1, None] + torch.arange(width, device=x.device)  # [P, B, W]
        cols = torch.where(flips[..., None], cols.flip(-1), cols)
        p = torch.arange(population, device=x.device).view(-1, 1, 1, 1, 1)
        b = torch.arange(batch, device=x.device).view(1, -1, 1, 1, 1)
        c = torch.arange(channels, device=x.device).view(1, 1, -1, 1, 1)
        out = images[p, b, c, rows[:, :, None, :, None], cols[:, :, None, None, :]]
        return out.reshape(population, batch, -1)
