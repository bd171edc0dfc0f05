"""MNIST and Fashion-MNIST from IDX files in torchvision's layout: `<root>/<MNIST|FashionMNIST>/raw/`."""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from functools import partial
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..config import DataConfig
from ..errors import SparsearchError, one_line
from ..reading import open_regular, size_of
from .download import fetch_mnist_family
from .files import checked_labels, locate, unit_pixels
from .splits import Pool

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
UBYTE = 0x08
DEFLATE_MAX_RATIO = 1032
"""Deflate's largest compression ratio: a gzip file of n bytes decodes to at most this times n."""
CHUNK = 2**20


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """An unsigned-byte IDX array of `ndim` dimensions from `path` (plain or `.gz`), validated.

    The header's shape is checked against the file before anything is allocated: a plain file
    must hold exactly the bytes it declares; a gzipped one cannot hold more than
    DEFLATE_MAX_RATIO times its size, and is decompressed only as far as the declared bytes
    and one more (so a decompression bomb costs nothing)."""
    with open_regular(path, "data.root") as f:
        try:
            if path.suffix == ".gz":
                with gzip.GzipFile(fileobj=f) as stream:
                    return _array(stream, path, ndim, DEFLATE_MAX_RATIO * size_of(f))
            return _array(f, path, ndim, size_of(f))
        except (OSError, EOFError, zlib.error) as error:
            raise SparsearchError(f"data.root: cannot read {path} ({one_line(error)}); replace it with the "
                                  f"original file") from None


def _array(stream: BinaryIO, path: Path, ndim: int, most: int) -> np.ndarray:
    """The IDX array read from `stream`, which holds at most `most` bytes."""
    header = 4 + 4 * ndim
    head = stream.read(header)
    magic, expected = head[:4], bytes([0, 0, UBYTE, ndim])
    if magic != expected:
        raise SparsearchError(
            f"data.root: {path} is not an IDX file of {ndim}-d unsigned bytes "
            f"(magic number 0x{magic.hex()}, expected 0x{expected.hex()}); replace it with the original file"
        )
    shape = struct.unpack(f">{ndim}I", head[4:]) if len(head) == header else ()
    if not shape or 0 in shape:
        raise SparsearchError(f"data.root: {path} declares the shape {shape or '(unreadable)'}, which holds no "
                              f"data; replace it with the original file")
    declared = math.prod(shape)
    if header + declared > most:
        raise SparsearchError(f"data.root: {path} declares the shape {shape} ({declared:,} bytes) but can hold at "
                              f"most {most - header:,}; the file is truncated or corrupt, replace it")
    data = np.empty(declared, dtype=np.uint8)
    if _fill(stream, data) != declared or stream.read(1):
        raise SparsearchError(f"data.root: {path} does not hold exactly the {declared:,} bytes its shape {shape} "
                              f"declares; the file is truncated or corrupt, replace it")
    return data.reshape(shape)


def _fill(stream: BinaryIO, data: np.ndarray) -> int:
    """Bytes read from `stream` into `data`, CHUNK at a time, until it is full or the stream ends."""
    got = 0
    while got < len(data):
        chunk = stream.read(min(CHUNK, len(data) - got))
        if not chunk:
            break
        data[got:got + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
        got += len(chunk)
    return got


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
