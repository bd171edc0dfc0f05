"""MNIST and Fashion-MNIST from IDX files in torchvision's layout: `<root>/<MNIST|FashionMNIST>/raw/`."""

from __future__ import annotations

import gzip
import struct
from functools import partial
from pathlib import Path

import numpy as np

from ..config import DataConfig
from ..errors import SparsearchError
from .download import fetch_mnist_family
from .files import checked_labels, locate, unit_pixels
from .splits import Pool

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
UBYTE = 0x08


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """An unsigned-byte IDX array of `ndim` dimensions from `path` (plain or `.gz`), validated."""
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as error:
        raise SparsearchError(f"data.root: cannot read {path} ({error}); replace it with the original file") from None
    magic, expected = data[:4], bytes([0, 0, UBYTE, ndim])
    if magic != expected:
        raise SparsearchError(
            f"data.root: {path} is not an IDX file of {ndim}-d unsigned bytes "
            f"(magic number 0x{magic.hex()}, expected 0x{expected.hex()}); replace it with the original file"
        )
    header = 4 + 4 * ndim
    shape = struct.unpack(f">{ndim}I", data[4:header]) if len(data) >= header else ()
    if len(data) != header + int(np.prod(shape)) or not shape:
        raise SparsearchError(
            f"data.root: {path} has {len(data)} bytes, not the {header}-byte header plus the data its shape "
            f"{shape or '(unreadable)'} declares; the file is truncated or corrupt, replace it"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def load(cfg: DataConfig, dataset: str) -> Pool:
    """The official train part (to split into train/val) and t10k test part, pixels scaled to [0, 1]."""
    paths = locate(cfg, dataset, f"{dataset}/raw", FILES, partial(fetch_mnist_family, dataset=dataset), gz=True)
    train, test = _images_and_labels(paths[0], paths[1]), _images_and_labels(paths[2], paths[3])
    if train[2] != test[2]:
        raise SparsearchError(
            f"data.root: {paths[0]} holds {train[2]} images but {paths[2]} holds {test[2]}; "
            f"the files come from different datasets"
        )
    return Pool(x=train[0], y=train[1], n_classes=10, test=test[:2], shape=(1, *train[2]))


def _images_and_labels(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """(pixels [n, features] in [0, 1], labels [n], one image's [height, width])."""
    images, labels = read_idx(images_path, ndim=3), read_idx(labels_path, ndim=1)
    if len(images) != len(labels):
        raise SparsearchError(
            f"data.root: {images_path} has {len(images)} images but {labels_path} has {len(labels)} labels; "
            f"replace them with matching original files"
        )
    return unit_pixels(images), checked_labels(labels, labels_path), images.shape[1:]


mnist = partial(load, dataset="MNIST")
fashion_mnist = partial(load, dataset="FashionMNIST")
