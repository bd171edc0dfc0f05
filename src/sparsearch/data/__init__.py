"""Datasets: every dataset comes back split by `data.seed` and standardized with train statistics.

Built-in loaders are registered by name; a user registers their own with `register_dataset`,
or passes arrays directly with `Dataset.from_arrays`."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from ..config import DataConfig, validated
from ..errors import SparsearchError, described
from . import builtin, cifar, idx
from .splits import Pool, flat, split, standardized, statistics

__all__ = ["LOADERS", "Dataset", "load_dataset", "register_dataset"]

Loader = Callable[[DataConfig], object]
"""Returns a `Pool`, a `Dataset`, or arrays `(x, y)` / `(x, y, x_test, y_test)`."""

LOADERS: dict[str, Loader] = {
    "digits": builtin.digits,
    "mnist1d": builtin.mnist1d,
    "synthetic": builtin.synthetic,
    "mnist": idx.mnist,
    "fashion_mnist": idx.fashion_mnist,
    "cifar10": cifar.cifar10,
}


def register_dataset(name: str, loader: Loader) -> None:
    """Make `[data] name = NAME` load with `loader(data_config)`, which returns a `Dataset` or
    arrays `(x, y)` or `(x, y, x_test, y_test)` (split and standardized like the built-ins)."""
    if not isinstance(name, str) or not name:
        raise SparsearchError(f"register_dataset: name must be a non-empty string, got {name!r}")
    if not callable(loader):
        raise SparsearchError(f"register_dataset: loader for {name!r} must be callable, got {loader!r}")
    LOADERS[name] = loader


@dataclass(frozen=True, eq=False)
class Dataset:
    """Standardized splits: features float32 [N, F] (flattened), labels int64 [N]; `shape` is
    one example's shape as parents that read images see it (flat features when not given);
    `mean` and `std` [F], the train split's statistics every split was standardized with (None
    for a Dataset a loader built itself, whose features are as it gave them): `transform` applies
    them to raw examples, giving what the networks read."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    input_shape: tuple[int, ...] | None = None
    mean: torch.Tensor | None = None
    std: torch.Tensor | None = None

    def __post_init__(self):
        if self.input_shape is not None and math.prod(self.input_shape) != self.n_features:
            raise SparsearchError(f"{self.name}: input_shape {self.input_shape} does not hold {self.n_features} "
                                  f"features")

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.input_shape or (self.n_features,)

    def transform(self, x) -> torch.Tensor:
        """Raw examples `x` (an array or tensor [N, ...] of N examples as the loader read them, or
        one example's flat features) as the networks read them: flat float32 features [N, F] standardized with
        the train split's `mean` and `std` (bitwise as the splits were); flattened alone where
        the dataset holds no statistics."""
        if isinstance(x, torch.Tensor):
            x = x.detach()
        array = x if isinstance(x, torch.Tensor) else np.asarray(x)
        if array.ndim == 1:
            array = array.reshape(1, -1)  # one example
        if array.ndim < 2 or math.prod(array.shape[1:]) != self.n_features or not _numeric(array):
            raise SparsearchError(f"{self.name}: transform reads numeric examples [N, ...] of {self.n_features} "
                                  f"features each, got shape {tuple(array.shape)} of {array.dtype}")
        if self.mean is None:
            return flat(array)
        device = array.device if isinstance(array, torch.Tensor) else "cpu"
        return standardized(array, self.mean.to(device), self.std.to(device))

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of every split's arrays (shape, dtype and bytes) and the class count: what
        trial keys record about the data, so different arrays never share a trial."""
        h = hashlib.sha256(repr(self.n_classes).encode())
        for t in (self.x_train, self.y_train, self.x_val, self.y_val, self.x_test, self.y_test):
            array = np.ascontiguousarray(t.numpy())
            h.update(f"{array.dtype}{array.shape}".encode())
            h.update(array.tobytes())
        return h.hexdigest()

    @classmethod
    def from_arrays(cls, x, y, *, x_test=None, y_test=None, name: str = "arrays", seed: int = 0,
                    val_fraction: float = 0.2, test_fraction: float = 0.2) -> "Dataset":
        """A dataset from arrays: x [N, ...] (flattened to features; its example shape kept
        for conv parents when x has more than 2 dims), integer labels y [N] in
        0..C-1. Without `x_test`, `test_fraction` of the examples become the test split; then
        `val_fraction` of the rest the validation split (fixed by `seed`). Features are
        standardized with the train split's statistics."""
        config = validated(DataConfig, {"name": name, "seed": seed, "val_fraction": val_fraction,
                                        "test_fraction": test_fraction}, "Dataset.from_arrays")
        if x_test is None and y_test is not None:
            raise SparsearchError(f"{name}: y_test was given without x_test; pass both or neither")
        test = None if x_test is None else (x_test, y_test)
        return _from_pool(_pool(name, x, y, test), config)


def _numeric(array) -> bool:
    if isinstance(array, torch.Tensor):
        return not array.dtype.is_complex and array.dtype != torch.bool
    return np.issubdtype(array.dtype, np.number)


def _pool(name: str, x, y, test=None) -> Pool:
    """Validate user arrays into a Pool; every problem is one SparsearchError line."""

    def features(a, what: str) -> np.ndarray:
        a = np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a)
        if a.ndim < 2 or not np.issubdtype(a.dtype, np.number) or 0 in a.shape:
            raise SparsearchError(f"{name}: {what} must be a numeric array [examples, features...] with at least "
                                  f"one of each, got shape {a.shape} of {a.dtype}")
        a = a.astype(np.float32)
        if not np.isfinite(a).all():
            raise SparsearchError(f"{name}: {what} holds NaN or infinite values; clean the features first")
        return a

    def labels(a, n: int, what: str) -> np.ndarray:
        a = np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a)
        if a.shape != (n,) or not np.issubdtype(a.dtype, np.integer) or (a < 0).any():
            raise SparsearchError(f"{name}: {what} must be {n} non-negative integer labels, got shape {a.shape} "
                                  f"of {a.dtype}")
        return a.astype(np.int64)

    x = features(x, "x")
    y = labels(y, len(x), "y")
    if test is not None:
        if test[1] is None:
            raise SparsearchError(f"{name}: x_test was given without y_test; pass both or neither")
        x_test = features(test[0], "x_test")
        if x_test.shape[1:] != x.shape[1:]:
            raise SparsearchError(f"{name}: x_test examples have shape {x_test.shape[1:]}, x's have {x.shape[1:]}")
        test = (x_test, labels(test[1], len(x_test), "y_test"))
    labelled = np.concatenate([y, test[1]]) if test is not None else y
    n_classes = int(labelled.max()) + 1
    if len(np.unique(y)) < 2:
        raise SparsearchError(f"{name}: y holds one class ({int(y[0])}); a classifier needs examples of at least 2")
    if n_classes > len(labelled):
        raise SparsearchError(f"{name}: labels must be class indices 0..C-1, got {n_classes - 1} as the largest "
                              f"label of {len(labelled)} examples")
    return Pool(x=x, y=y, n_classes=n_classes, test=test, shape=x.shape[1:] if x.ndim > 2 else None)


def _from_pool(pool: Pool, cfg: DataConfig) -> Dataset:
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = split(pool, cfg)
    mean, std = statistics(x_train)
    x_train, x_val, x_test = (standardized(x, mean, std) for x in (x_train, x_val, x_test))
    return Dataset(
        name=cfg.name,
        x_train=x_train,
        y_train=torch.as_tensor(y_train, dtype=torch.int64),
        x_val=x_val,
        y_val=torch.as_tensor(y_val, dtype=torch.int64),
        x_test=x_test,
        y_test=torch.as_tensor(y_test, dtype=torch.int64),
        n_classes=pool.n_classes,
        input_shape=None if pool.shape is None else tuple(int(n) for n in pool.shape),
        mean=mean,
        std=std,
    )


def load_dataset(data: DataConfig | str, **settings) -> Dataset:
    """The dataset `data` names (a name, e.g. "digits", or a `DataConfig`) with `[data]`
    `settings` (seed, val_fraction, test_fraction, samples, root, download), read or generated,
    split by its seed and standardized with the train split's statistics: as a run loads it."""
    cfg = _data_config(data, settings)
    if cfg.name not in LOADERS:
        raise SparsearchError(f"data.name: unknown dataset {cfg.name!r}; known: {', '.join(sorted(LOADERS))} "
                              f"(or sparsearch.register_dataset)")
    try:
        loaded = LOADERS[cfg.name](cfg)
    except SparsearchError:
        raise
    except Exception as error:
        raise SparsearchError(f"registered dataset {cfg.name!r} failed: {described(error)}") from error
    if isinstance(loaded, Dataset):
        return loaded
    if not isinstance(loaded, Pool):
        if not isinstance(loaded, tuple) or len(loaded) not in (2, 4):
            raise SparsearchError(f"dataset {cfg.name!r}: its loader must return a Dataset or arrays (x, y) or "
                                  f"(x, y, x_test, y_test), got {type(loaded).__name__}")
        loaded = _pool(cfg.name, loaded[0], loaded[1], tuple(loaded[2:]) or None)
    return _from_pool(loaded, cfg)


def _data_config(data: DataConfig | str, settings: dict) -> DataConfig:
    if isinstance(data, DataConfig):
        return validated(DataConfig, {**data.model_dump(), **settings}, "load_dataset") if settings else data
    if not isinstance(data, str):
        raise SparsearchError(f"load_dataset: data must be a dataset's name or a DataConfig, got {data!r}")
    return validated(DataConfig, {"name": data, **settings}, "load_dataset")
