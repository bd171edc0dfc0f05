"""Bad data files, files that are not files, and sparsities a parent cannot take: one line each
(exit 2, no traceback, store bytes and export unchanged, never a hang), through the real
command under a memory limit (tests/refusal.py). Data files are written in their real formats."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import pytest

from conftest import toml
from refusal import refused
from sparsearch.config import DataConfig
from sparsearch.data import load_dataset
from sparsearch.errors import SparsearchError

RUN = ["run", "c.toml", "--store", "{store}", "--quiet"]
MNIST_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
RECORD = 1 + 3 * 32 * 32
MiB = 2**20


def idx(shape: tuple[int, ...], data: bytes | None = None) -> bytes:
    """An unsigned-byte IDX file declaring `shape`, followed by `data` (zeros to fill it if None)."""
    header = struct.pack(">BBBB", 0, 0, 0x08, len(shape)) + struct.pack(f">{len(shape)}I", *shape)
    size = 1
    for n in shape:
        size *= n
    return header + (bytes(size) if data is None else data)


def gzip_bomb(head: bytes, zeros_mib: int) -> bytes:
    """A valid gzip file of `head` then `zeros_mib` MiB of zeros, built without compressing them
    all: after a full flush deflate restarts, so one compressed MiB of zeros repeats verbatim."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = deflate.compress(head) + deflate.flush(zlib.Z_FULL_FLUSH)
    unit = deflate.compress(bytes(MiB)) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(head)
    for _ in range(zeros_mib):
        crc = zlib.crc32(bytes(MiB), crc)
    size = len(head) + zeros_mib * MiB
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + body + unit * zeros_mib + deflate.flush()
            + struct.pack("<II", crc, size % 2**32))


def _plant(path: Path, content) -> None:
    """Write `content` at `path`: bytes, or a callable that makes something there."""
    if callable(content):
        content(path)
    else:
        path.write_bytes(content)


def mnist(replace: str, content, gz: bool = False) -> dict:
    """A run on MNIST files under d/ (10 train and 4 test images of 4x4), `replace` being `content`."""
    def prepare(store: Path) -> None:
        raw = store.parent / "d" / "MNIST" / "raw"
        raw.mkdir(parents=True)
        good = (idx((10, 4, 4)), idx((10,)), idx((4, 4, 4)), idx((4,)))
        for name, data in zip(MNIST_NAMES, good):
            if name != replace:
                (raw / name).write_bytes(data)
        _plant(raw / (replace + (".gz" if gz else "")), content)

    return {"files": {"c.toml": toml(data={"name": "mnist", "root": "d", "samples": None})}, "args": RUN,
            "prepare": prepare}


def cifar(content) -> dict:
    """A run on CIFAR-10 binary batches of two records under d/, data_batch_1.bin being `content`."""
    def prepare(store: Path) -> None:
        folder = store.parent / "d" / "cifar-10-batches-bin"
        folder.mkdir(parents=True)
        for name in [f"data_batch_{i}.bin" for i in range(2, 6)] + ["test_batch.bin"]:
            (folder / name).write_bytes(bytes(2 * RECORD))
        _plant(folder / "data_batch_1.bin", content)

    return {"files": {"c.toml": toml(data={"name": "cifar10", "root": "d", "samples": None})}, "args": RUN,
            "prepare": prepare}


def sparse_file(size: int):
    """Makes a file of `size` zero bytes that takes no disk space."""
    def make(path: Path) -> None:
        with open(path, "wb") as f:
            f.truncate(size)
    return make


def unreadable(make):
    """Makes what `make` makes, then takes away every permission on it."""
    def make_unreadable(path: Path) -> None:
        _plant(path, make)
        path.chmod(0)
    return make_unreadable


def config_at(content, args=RUN) -> dict:
    """A command whose config file c.toml is `content` (bytes, or a callable that makes it)."""
    return {"args": args, "prepare": lambda store: _plant(store.parent / "c.toml", content)}


def run_with(**changes) -> dict:
    return {"files": {"c.toml": toml(**changes)}, "args": RUN}


DIGITS = {"name": "digits", "samples": None}
ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False
as_root = pytest.mark.skipif(ROOT, reason="root reads files and folders whatever their permissions")

CASES = {
    # IDX headers and sizes
    "IDX of 0 images": (mnist("train-images-idx3-ubyte", idx((0, 4, 4))), "declares the shape (0, 4, 4)"),
    "IDX of 0x0 pixels": (mnist("train-images-idx3-ubyte", idx((10, 0, 0))), "which holds no data"),
    "IDX of 0 labels": (mnist("t10k-labels-idx1-ubyte", idx((0,))), "declares the shape (0,)"),
    "IDX truncated": (mnist("train-images-idx3-ubyte", idx((10, 4, 4))[:-5]), "but can hold at most 155"),
    "IDX with bytes beyond its shape": (mnist("train-labels-idx1-ubyte", idx((10,)) + b"\0"), "does not hold exactly"),
    "IDX header claiming 1e9 images": (mnist("train-images-idx3-ubyte", idx((10**9, 28, 28), b"")),
                                       "(784,000,000,000 bytes) but can hold at most"),
    "gzip IDX header claiming 1e9 images": (mnist("train-images-idx3-ubyte", gzip_bomb(idx((10**9, 28, 28), b""), 0),
                                                  gz=True), "(784,000,000,000 bytes) but can hold at most"),
    "gzip bomb (2 GiB of zeros after 10 images)": (
        mnist("train-images-idx3-ubyte", lambda path: path.write_bytes(gzip_bomb(idx((10, 4, 4)), 2048)), gz=True),
        "does not hold exactly the 160 bytes"),
    "gzip IDX cut short": (mnist("train-images-idx3-ubyte", gzip_bomb(idx((10, 4, 4)), 0)[:-12], gz=True),
                           "cannot read"),
    # files that are not regular files
    "IDX is a FIFO": (mnist("train-labels-idx1-ubyte", os.mkfifo), "is a FIFO (named pipe), not a regular file"),
    "IDX is a folder": (mnist("t10k-images-idx3-ubyte", os.mkdir), "is a folder, not a regular file"),
    "CIFAR batch is a FIFO": (cifar(os.mkfifo), "data_batch_1.bin is a FIFO"),
    "config is a FIFO (run)": (config_at(os.mkfifo), "c.toml is a FIFO"),
    "config is a FIFO (check)": (config_at(os.mkfifo, ["config", "--check", "c.toml"]), "c.toml is a FIFO"),
    "config is /dev/zero": ({"args": ["run", "/dev/zero", "--store", "{store}"]}, "/dev/zero is a character device"),
    "config over 1 MiB": (config_at((toml() + "#" * MiB + "\n").encode()), "larger than 1,048,576 bytes"),
    # CIFAR batch sizes
    "CIFAR batch not whole records": (cifar(bytes(2 * RECORD + 5)), "is not 1 to 10,000 whole 3073-byte records"),
    "CIFAR batch of 10001 records": (cifar(sparse_file(10_001 * RECORD)), "30,733,073 bytes is not 1 to 10,000"),
    "CIFAR batch empty": (cifar(b""), "(0 bytes is not 1 to 10,000"),
    # unreadable files and folders
    "IDX unreadable": pytest.param(mnist("train-images-idx3-ubyte", unreadable(idx((10, 4, 4)))),
                                   "cannot read", marks=as_root),
    "IDX folder unreadable": pytest.param(mnist("t10k-images-idx3-ubyte", lambda p: p.parent.chmod(0)),
                                          "cannot look for", marks=as_root),
    "CIFAR batch unreadable": pytest.param(cifar(unreadable(bytes(2 * RECORD))), "cannot read", marks=as_root),
    # sparsities a parent cannot take
    "lenet5 at node sparsity 0.95": (run_with(data=DIGITS, parent={"kind": "lenet5"}, search={"sparsities": [0.95]}),
                                     "0.95 removes all 6 channels of lenet5's convolution 1"),
    "cnn1d of 1 channel at 0.9": (run_with(parent={"kind": "cnn1d", "channels": [1, 25, 25]},
                                           search={"sparsities": [0.5, 0.9]}),
                                  "0.9 removes all 1 channels of cnn1d's convolution 1"),
    "resnet20 stream group emptied": (run_with(data=DIGITS, parent={"kind": "resnet20", "channels": [1, 2, 4]},
                                               search={"sparsities": [0.6]}), "(group S1)"),
    "resnet20 at node sparsity 0.97": (run_with(data=DIGITS, parent={"kind": "resnet20"},
                                                search={"sparsities": [0.97]}), "removes all 16 channels"),
    "mlp layer emptied": (run_with(parent={"hidden": [16, 2]}, search={"sparsities": [0.8]}),
                          "0.8 removes all 2 units of hidden layer 2"),
    "supernet width rounding to 0 units (run)": (run_with(experiment={"kind": "supernet"}, parent={"hidden": [16, 8]},
                                                          supernet={"widths": [0.05, 1.0], "evaluations": 2}),
                                                 "0.05 of hidden layer 2's 8 units rounds to 0 units"),
    "supernet width rounding to 0 units (check)": ({"files": {"c.toml": toml(experiment={"kind": "supernet"},
                                                                             supernet={"widths": [0.01, 1.0]})},
                                                    "args": ["config", "--check", "c.toml"]}, "rounds to 0 units"),
}


@pytest.mark.parametrize(("case", "fragment"), CASES.values(), ids=CASES.keys())
def test_a_bad_data_file_or_sparsity_is_one_line_and_the_store_is_unchanged(case, fragment, tmp_path,
                                                                              finished_store):
    line = refused(case["args"], tmp_path, finished_store, case.get("files"), case.get("prepare"))
    assert fragment in line, line


def test_a_data_folder_that_cannot_be_searched_is_named(tmp_path, monkeypatch):
    """What chmod 000 does to a folder, as root too (root searches any folder)."""
    def denied(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("sparsearch.reading.os.stat", denied)
    with pytest.raises(SparsearchError, match=r"cannot look for .*Permission denied.*check the permissions"):
        load_dataset(DataConfig(name="mnist", root=str(tmp_path)))


def test_a_data_file_that_cannot_be_opened_is_named(tmp_path, monkeypatch):
    """What chmod 000 does to a file, as root too (root opens any file)."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_NAMES:
        (raw / name).write_bytes(idx((4,)))

    def denied(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("sparsearch.reading.os.open", denied)
    with pytest.raises(SparsearchError, match=r"cannot read .*train-images-idx3-ubyte \(Permission denied\)"):
        load_dataset(DataConfig(name="mnist", root=str(tmp_path)))


def test_a_registered_module_checks_its_own_sparsities_before_the_store(tmp_path, monkeypatch):
    """A user's module (nets/module_parent.py) whose first convolution has one channel."""
    import sparsearch
    from custom_cnn import SmallCNN
    from sparsearch.nets import PARENTS

    monkeypatch.setattr("sparsearch.nets.PARENTS", dict(PARENTS))
    sparsearch.register_parent("thin_cnn", lambda shape, n_classes: SmallCNN(shape, n_classes, c1=1))
    config = {"experiment": {"name": "thin", "seeds": 1}, "data": {"name": "digits"}, "parent": {"kind": "thin_cnn"},
              "train": {"epochs": 1}, "search": {"sparsities": [0.9], "arms": ["dense", "random"]}}
    with pytest.raises(SparsearchError, match=r"0.9 removes all 1 channels of thin_cnn's group 1 \(conv1.weight"):
        sparsearch.run(config, store=tmp_path / "s.db")
    assert not (tmp_path / "s.db").exists()
