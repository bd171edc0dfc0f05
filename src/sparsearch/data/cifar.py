"""CIFAR-10 from its binary release, `<root>/cifar-10-batches-bin/` (never the pickled python release)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import DataConfig
from ..errors import SparsearchError
from .download import fetch_cifar10
from .files import checked_labels, locate, unit_pixels
from .splits import Pool

FOLDER = "cifar-10-batches-bin"
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"
RECORD = 1 + 3 * 32 * 32  # one label byte, then the red, green and blue 32x32 planes


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(pixels uint8 [n, 3072], labels int64 [n]) from one binary batch file, validated."""
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0 or data.size % RECORD:
        raise SparsearchError(
            f"data.root: {path} is not a CIFAR-10 binary batch ({data.size} bytes is not a whole number of "
            f"{RECORD}-byte records); replace it with the original file"
        )
    records = data.reshape(-1, RECORD)
    return records[:, 1:], checked_labels(records[:, 0], path)


def cifar10(cfg: DataConfig) -> Pool:
    """The five data batches (to split into train/val) and the official test batch, pixels scaled to [0, 1]."""
    paths = locate(cfg, "CIFAR-10 binary", FOLDER, (*TRAIN_FILES, TEST_FILE), fetch_cifar10)
    train = [read_batch(p) for p in paths[:-1]]
    test_x, test_y = read_batch(paths[-1])
    return Pool(
        x=unit_pixels(np.concatenate([x for x, _ in train])),
        y=np.concatenate([y for _, y in train]),
        n_classes=10,
        test=(unit_pixels(test_x), test_y),
        shape=(3, 32, 32),  # each record stores the red, green and blue planes in turn
    )
