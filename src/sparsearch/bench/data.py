"""The benchmark's datasets: the built-ins by name, and CIFAR-shaped noise for the 2-D workloads
of CIFAR-10 parents (Conv-4, ResNet-20), which measure what a network costs, not what it learns."""

from __future__ import annotations

import torch

from ..config import config_from_dict
from ..data import Dataset, load_dataset

CIFAR_SHAPED = "cifar-shaped"
"""The dataset name of `cifar_shaped` in a `Workload` (not a registered dataset: a run cannot read it)."""
CIFAR_EXAMPLES = (100, 50, 50)
"""Training, validation and test examples of the bench's CIFAR-shaped data: one batch of the conv
recipe per epoch (Conv-4 trains at ~0.6 GFLOP per example, ResNet-20 at ~0.25: at P = 16 an
epoch is already ~1 TFLOP and ~0.4 TFLOP)."""


def cifar_shaped(n_train: int, n_val: int, n_test: int) -> Dataset:
    """Standard normal features of CIFAR-10's shape (3x32x32, flattened) and uniform labels of 10
    classes, drawn in split order from one generator seeded 0."""
    g = torch.Generator().manual_seed(0)
    splits = []
    for n in (n_train, n_val, n_test):
        splits += [torch.randn(n, 3 * 32 * 32, generator=g), torch.randint(0, 10, (n,), generator=g)]
    return Dataset(CIFAR_SHAPED, *splits, n_classes=10, input_shape=(3, 32, 32))


def bench_dataset(name: str) -> Dataset:
    """The dataset a workload names: `CIFAR_SHAPED` at `CIFAR_EXAMPLES`, else the built-in as a run loads it."""
    if name == CIFAR_SHAPED:
        return cifar_shaped(*CIFAR_EXAMPLES)
    return load_dataset(config_from_dict({"data": {"name": name}}).data)
