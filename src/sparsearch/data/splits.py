"""Shared by every dataset: the seeded train/val/test split and train-statistics standardization."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..config import DataConfig
from ..errors import SparsearchError


@dataclass(frozen=True)
class Pool:
    """A dataset as read, before splitting: features [N, F] (or images [N, ...]), labels [N],
    the official test part if any, and one example's shape ([channels, length] or [channels,
    height, width]) for parents that read images."""

    x: np.ndarray
    y: np.ndarray
    n_classes: int
    test: tuple[np.ndarray, np.ndarray] | None = None
    shape: tuple[int, ...] | None = None


Part = tuple[np.ndarray, np.ndarray]


def split(pool: Pool, cfg: DataConfig) -> tuple[Part, Part, Part]:
    """(train, val, test) as (x, y) pairs, fixed by `cfg.seed`.

    An official test part stays the test split and val is carved from the official train part;
    otherwise `test_fraction` of the pool goes to test, then `val_fraction` of the rest to val.
    """
    order = np.random.default_rng(cfg.seed).permutation(len(pool.y))
    if pool.test is None:
        n_test = round(cfg.test_fraction * len(order))
        test_idx, order = order[:n_test], order[n_test:]
        test = (pool.x[test_idx], pool.y[test_idx])
    else:
        test = pool.test
    n_val = round(cfg.val_fraction * len(order))
    val_idx, train_idx = order[:n_val], order[n_val:]
    parts = ((pool.x[train_idx], pool.y[train_idx]), (pool.x[val_idx], pool.y[val_idx]), test)
    sizes = [len(y) for _, y in parts]
    if min(sizes) == 0:
        raise SparsearchError(
            f"data: {cfg.name} split into train/val/test of {sizes[0]}/{sizes[1]}/{sizes[2]} examples; "
            f"every split needs at least one, so adjust data.val_fraction, data.test_fraction or data.samples"
        )
    return parts


def flat(x) -> torch.Tensor:
    """Examples [N, ...] as flat float32 features [N, F]."""
    return torch.as_tensor(x, dtype=torch.float32).reshape(len(x), -1)


def statistics(x_train: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """The train split's per-feature mean and std [F] (std 1 for constant features)."""
    train = flat(x_train)
    std, mean = torch.std_mean(train, dim=0, correction=0)
    return mean, torch.where(train.amax(dim=0) > train.amin(dim=0), std, torch.ones_like(std))


def standardized(x, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Examples `x` [N, ...] as flat features scaled by `mean` and `std`."""
    return (flat(x) - mean) / std


def standardize(x_train: np.ndarray, *others: np.ndarray) -> list[torch.Tensor]:
    """Flat float32 tensors [N, F] scaled by the train split's per-feature mean and std (std 1
    for constant features)."""
    mean, std = statistics(x_train)
    return [standardized(x, mean, std) for x in (x_train, *others)]
