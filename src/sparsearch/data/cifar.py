"""CIFAR-10 from its binary release, `<root>/cifar-10-batches-bin/` (never the pickled python release)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import DataConfig
from ..errors import SparsearchError
from ..reading import open_regular, size_of
from .download import fetch_cifar10
from .files import checked_labels, locate, unit_pixels
from .splits import Pool

FOLDER = "cifar-10-batches-bin"
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"
RECORD = 1 + 3 * 32 * 32  # one label byte, then the red, green and blue 32x32 planes
BATCH_RECORDS = 10_000  # the records of each batch file of the release


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(pixels uint8 [n, 3072], labels int64 [n]) from one binary batch file of at most
    BATCH_RECORDS records, validated before anything is allocated."""
    with open_regular(path, "data.root") as f:
        size = size_of(f)
        if size == 0 or size % RECORD or size > BATCH_RECORDS * RECORD:
            raise SparsearchError(
                f"data.root: {path} is not a CIFAR-10 binary batch ({size:,} bytes is not 1 to {BATCH_RECORDS:,} "
                f"whole {RECORD}-byte records); replace it with the original file"
            )
        data = np.frombuffer(f.read(size), dtype=np.uint8)
    if data.size != size:
        raise SparsearchError(f"data.root: {path} changed while it was read; rerun when nothing writes to it")
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
