"""Dataset loaders: every dataset comes back split by `data.seed` and standardized with train statistics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..config import DataConfig
from . import builtin, cifar, idx
from .splits import Pool, split, standardize

__all__ = ["LOADERS", "Dataset", "load_dataset"]

LOADERS: dict[str, Callable[[DataConfig], Pool]] = {
    "digits": builtin.digits,
    "mnist1d": builtin.mnist1d,
    "synthetic": builtin.synthetic,
    "mnist": idx.mnist,
    "fashion_mnist": idx.fashion_mnist,
    "cifar10": cifar.cifar10,
}


@dataclass(frozen=True, eq=False)
class Dataset:
    """Standardized splits: features float32 [N, F] (flattened), labels int64 [N]."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]


def load_dataset(cfg: DataConfig) -> Dataset:
    """Read or generate `cfg.name`, split it by `cfg.seed` and standardize it with the train split's statistics."""
    pool = LOADERS[cfg.name](cfg)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = split(pool, cfg)
    x_train, x_val, x_test = standardize(x_train, x_val, x_test)
    return Dataset(
        name=cfg.name,
        x_train=x_train,
        y_train=torch.as_tensor(y_train, dtype=torch.int64),
        x_val=x_val,
        y_val=torch.as_tensor(y_val, dtype=torch.int64),
        x_test=x_test,
        y_test=torch.as_tensor(y_test, dtype=torch.int64),
        n_classes=pool.n_classes,
    )
