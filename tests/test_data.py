"""Dataset loaders: real on-disk formats, seeded splits, train-only standardization, no global side effects."""

from __future__ import annotations

import gzip
import random
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import sparsearch
from sparsearch.config import DataConfig
from sparsearch.data import load_dataset
from sparsearch.data.splits import Pool, split, standardize
from sparsearch.errors import SparsearchError
from sparsearch.extras import install_hint

# Ten official-train examples whose labels are all different, so y_train/y_val say which rows landed where.
TRAIN_LABELS = np.array([3, 1, 4, 0, 5, 9, 2, 6, 8, 7], dtype=np.uint8)
TEST_LABELS = np.array([7, 7, 2, 0], dtype=np.uint8)


def pixels(n: int, features: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, features), dtype=np.uint8)


def expected_standardized(train_pixels: np.ndarray, pixels_: np.ndarray) -> np.ndarray:
    """Hand computation: scale to [0, 1], then use the train rows' mean and population std (1 if constant)."""
    train, x = train_pixels / 255.0, pixels_ / 255.0
    std = train.std(axis=0)
    return (x - train.mean(axis=0)) / np.where(std == 0, 1.0, std)


def one_line_error(excinfo: pytest.ExceptionInfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def assert_split_matches(ds, train_pixels: np.ndarray, test_pixels: np.ndarray) -> None:
    """The official test part is the test split, in order; train and val come from the official train part."""
    row_of_label = np.argsort(TRAIN_LABELS)
    train_rows = row_of_label[ds.y_train.numpy()]
    val_rows = row_of_label[ds.y_val.numpy()]
    assert sorted([*train_rows, *val_rows]) == list(range(len(TRAIN_LABELS)))
    assert (len(train_rows), len(val_rows)) == (8, 2)
    assert ds.y_test.tolist() == TEST_LABELS.tolist()
    used = train_pixels[train_rows]
    for x, raw in ((ds.x_train, used), (ds.x_val, train_pixels[val_rows]), (ds.x_test, test_pixels)):
        assert x.dtype == torch.float32
        np.testing.assert_allclose(x.numpy(), expected_standardized(used, raw), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- MNIST family (IDX)


def idx_bytes(array: np.ndarray) -> bytes:
    return struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write(path: Path, data: bytes, gz: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def write_mnist(root: Path, folder: str = "MNIST", gz=(False, False, False, False)):
    """Four IDX files of 2x3 images in torchvision's layout; returns (train pixels, test pixels, paths)."""
    train = pixels(10, 6, seed=1)
    train[:, 0] = 0  # a constant feature, as MNIST's borders are
    test = pixels(4, 6, seed=2)
    raw = root / folder / "raw"
    arrays = (train.reshape(-1, 2, 3), TRAIN_LABELS, test.reshape(-1, 2, 3), TEST_LABELS)
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    paths = [write(raw / name, idx_bytes(a), z) for name, a, z in zip(names, arrays, gz)]
    return train, test, paths


@pytest.mark.parametrize(
    ("name", "folder", "gz"),
    [
        ("mnist", "MNIST", (False, False, False, False)),
        ("mnist", "MNIST", (True, True, True, True)),
        ("fashion_mnist", "FashionMNIST", (True, False, False, True)),
    ],
)
def test_idx_files_give_their_labels_and_standardized_pixels(tmp_path, name, folder, gz):
    train, test, _ = write_mnist(tmp_path, folder, gz)
    ds = load_dataset(DataConfig(name=name, root=str(tmp_path)))
    assert ds.name == name and ds.n_classes == 10 and ds.n_features == 6
    assert ds.y_train.dtype == torch.int64
    assert_split_matches(ds, train, test)
    assert torch.all(ds.x_train[:, 0] == 0)  # constant feature: centred, std treated as 1


def corrupt_magic(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[2] = 0x0D  # float instead of unsigned byte
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-3])


@pytest.mark.parametrize(
    ("gz", "which", "damage"),
    [
        (False, 0, corrupt_magic),
        (False, 1, truncate),
        (False, 3, lambda p: p.write_bytes(b"\x00\x00")),
        (True, 2, truncate),  # a cut gzip stream
    ],
)
def test_malformed_idx_file_is_named(tmp_path, gz, which, damage):
    _, _, paths = write_mnist(tmp_path, gz=(gz,) * 4)
    damage(paths[which])
    with pytest.raises(SparsearchError) as excinfo:
        load_dataset(DataConfig(name="mnist", root=str(tmp_path)))
    assert str(paths[which]) in one_line_error(excinfo)


def test_idx_labels_must_match_images(tmp_path):
    _, _, paths = write_mnist(tmp_path)
    paths[1].write_bytes(idx_bytes(TRAIN_LABELS[:9]))
    with pytest.raises(SparsearchError, match="10 images but .* 9 labels"):
        load_dataset(DataConfig(name="mnist", root=str(tmp_path)))


def test_file_dataset_without_root_names_data_root():
    with pytest.raises(SparsearchError) as excinfo:
        load_dataset(DataConfig(name="mnist"))
    assert one_line_error(excinfo).startswith("data.root:")


def test_missing_files_say_where_they_were_expected(tmp_path):
    with pytest.raises(SparsearchError) as excinfo:
        load_dataset(DataConfig(name="fashion_mnist", root=str(tmp_path)))
    message = one_line_error(excinfo)
    assert str(tmp_path / "FashionMNIST" / "raw" / "train-images-idx3-ubyte") + "[.gz]" in message
    assert "data.root" in message and "data.download = true" in message


@pytest.fixture
def no_torchvision(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # any `import torchvision` now fails


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_download_without_torchvision_is_a_one_line_error(tmp_path, no_torchvision, name):
    with pytest.raises(SparsearchError) as excinfo:
        load_dataset(DataConfig(name=name, root=str(tmp_path), download=True))
    assert one_line_error(excinfo).startswith(f"data.download needs torchvision: {install_hint('torchvision')} ")


def test_download_is_not_attempted_when_files_exist(tmp_path, no_torchvision):
    write_mnist(tmp_path)
    write_cifar(tmp_path)
    assert len(load_dataset(DataConfig(name="mnist", root=str(tmp_path), download=True)).y_test) == 4
    assert len(load_dataset(DataConfig(name="cifar10", root=str(tmp_path), download=True)).y_test) == 4


# ---------------------------------------------------------------- CIFAR-10 (binary release)


def write_cifar(root: Path):
    """Five data batches of two records and a test batch of four; returns (train pixels, test pixels, folder)."""
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    train, test = pixels(10, 3072, seed=3), pixels(4, 3072, seed=4)

    def records(x, y):
        return np.concatenate([y[:, None], x], axis=1).tobytes()

    for b in range(5):
        rows = slice(2 * b, 2 * b + 2)
        (folder / f"data_batch_{b + 1}.bin").write_bytes(records(train[rows], TRAIN_LABELS[rows]))
    (folder / "test_batch.bin").write_bytes(records(test, TEST_LABELS))
    return train, test, folder


def test_cifar_binary_batches_give_their_labels_and_standardized_pixels(tmp_path):
    train, test, _ = write_cifar(tmp_path)
    ds = load_dataset(DataConfig(name="cifar10", root=str(tmp_path)))
    assert ds.n_features == 3072 and ds.n_classes == 10
    assert_split_matches(ds, train, test)


def test_malformed_cifar_batch_is_named(tmp_path):
    _, _, folder = write_cifar(tmp_path)
    truncate(folder / "data_batch_3.bin")
    with pytest.raises(SparsearchError) as excinfo:
        load_dataset(DataConfig(name="cifar10", root=str(tmp_path)))
    assert str(folder / "data_batch_3.bin") in one_line_error(excinfo)


def test_missing_cifar_batch_is_named(tmp_path):
    _, _, folder = write_cifar(tmp_path)
    (folder / "data_batch_5.bin").unlink()
    with pytest.raises(SparsearchError, match="data_batch_5.bin.*data.download = true"):
        load_dataset(DataConfig(name="cifar10", root=str(tmp_path)))


# ---------------------------------------------------------------- splits and standardization


def test_digits_default_sizes():
    ds = load_dataset(DataConfig())
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (1150, 288, 359)  # 1797 in all
    assert ds.x_train.shape == (1150, 64) and ds.n_features == 64 and ds.n_classes == 10
    from sklearn.datasets import load_digits

    all_labels = torch.cat([ds.y_train, ds.y_val, ds.y_test])
    assert torch.equal(torch.bincount(all_labels), torch.bincount(torch.as_tensor(load_digits().target)))


def test_split_is_fixed_by_seed():
    a, b, c = (load_dataset(DataConfig(seed=s)) for s in (0, 0, 1))
    for field in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        assert torch.equal(getattr(a, field), getattr(b, field))
    assert not torch.equal(a.y_test, c.y_test)


def test_split_rows_are_disjoint_and_cover_the_pool():
    pool = Pool(x=np.arange(100)[:, None], y=np.arange(100), n_classes=100)
    cfg = DataConfig(seed=3, val_fraction=0.3, test_fraction=0.1)
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = split(pool, cfg)
    assert (len(y_tr), len(y_va), len(y_te)) == (63, 27, 10)
    assert sorted(np.concatenate([y_tr, y_va, y_te])) == list(range(100))
    assert np.array_equal(x_tr[:, 0], y_tr)  # features and labels stay paired
    other = split(pool, cfg.model_copy(update={"seed": 4}))
    assert not np.array_equal(other[2][1], y_te)


def test_official_test_part_is_kept():
    test = (np.full((5, 1), 7.0), np.arange(5))
    pool = Pool(x=np.arange(20)[:, None], y=np.arange(20), n_classes=20, test=test)
    (_, y_tr), (_, y_va), (x_te, y_te) = split(pool, DataConfig(val_fraction=0.2))
    assert (len(y_tr), len(y_va)) == (16, 4)
    assert x_te is test[0] and y_te is test[1]


def test_split_leaving_an_empty_part_is_an_error():
    with pytest.raises(SparsearchError, match="data.val_fraction"):
        load_dataset(DataConfig(name="synthetic", samples=20, val_fraction=0.01))


def test_standardize_uses_train_statistics_only():
    rng = np.random.default_rng(0)
    x_train = rng.normal(3.0, 2.0, size=(50, 4))
    x_train[:, 2] = 5.0  # constant: std taken as 1
    x_val, x_test = rng.normal(size=(7, 4)) * 10, rng.normal(size=(9, 4)) - 4
    train, val, test = standardize(x_train, x_val, x_test)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[2] = 1.0
    for got, raw in ((train, x_train), (val, x_val), (test, x_test)):
        assert got.dtype == torch.float32
        np.testing.assert_allclose(got.numpy(), (raw - mean) / std, rtol=1e-5, atol=1e-5)


def test_digits_train_split_is_standardized():
    ds = load_dataset(DataConfig())
    varying = ds.x_train.std(dim=0, correction=0) > 0
    assert torch.allclose(ds.x_train.mean(dim=0), torch.zeros(64), atol=1e-5)
    assert torch.allclose(ds.x_train[:, varying].std(dim=0, correction=0), torch.ones(int(varying.sum())), atol=1e-4)
    assert not torch.allclose(ds.x_val.mean(dim=0), torch.zeros(64), atol=1e-3)  # val has its own spread


# ---------------------------------------------------------------- generated datasets


def test_mnist1d_shapes_and_no_global_rng_side_effects():
    np.random.seed(123)
    random.seed(456)
    numpy_before, python_before = np.random.get_state(), random.getstate()
    ds = load_dataset(DataConfig(name="mnist1d", samples=200))
    after = np.random.get_state()
    assert after[0] == numpy_before[0] and np.array_equal(after[1], numpy_before[1]) and after[2:] == numpy_before[2:]
    assert random.getstate() == python_before
    # 200 generated, its official 80/20 split keeps 40 as test, val takes 20% of the other 160.
    assert (ds.x_train.shape, ds.x_val.shape, ds.x_test.shape) == ((128, 40), (32, 40), (40, 40))
    assert ds.n_classes == 10 and set(ds.y_train.tolist()) <= set(range(10))
    again = load_dataset(DataConfig(name="mnist1d", samples=200))
    assert torch.equal(ds.x_test, again.x_test) and torch.equal(ds.y_train, again.y_train)


def test_synthetic_is_seeded_and_separable_but_not_trivially():
    ds = load_dataset(DataConfig(name="synthetic"))
    assert (ds.n_features, ds.n_classes) == (16, 4)
    assert len(ds.y_train) + len(ds.y_val) + len(ds.y_test) == 600
    assert torch.equal(ds.x_train, load_dataset(DataConfig(name="synthetic")).x_train)
    assert not torch.equal(ds.x_train, load_dataset(DataConfig(name="synthetic", seed=1)).x_train)
    means = torch.stack([ds.x_train[ds.y_train == k].mean(dim=0) for k in range(4)])
    nearest = torch.cdist(torch.cat([ds.x_val, ds.x_test]), means).argmin(dim=1)
    accuracy = (nearest == torch.cat([ds.y_val, ds.y_test])).float().mean().item()
    assert 0.85 < accuracy < 1.0


def test_arrays_datasets_transform_their_raw_test_examples():
    rng = np.random.default_rng(1)
    x, y = rng.normal(3, 2, size=(60, 5)).astype(np.float32), np.arange(60) % 3
    x_test = rng.normal(3, 2, size=(10, 5)).astype(np.float32)
    data = sparsearch.Dataset.from_arrays(x, y, x_test=x_test, y_test=np.arange(10) % 3)
    assert torch.equal(data.transform(x_test), data.x_test)
    built = sparsearch.Dataset("own", *(getattr(data, s) for s in ("x_train", "y_train", "x_val", "y_val", "x_test",
                                                                     "y_test")), n_classes=3)
    assert built.mean is None and torch.equal(built.transform(x_test), torch.as_tensor(x_test))


def test_load_dataset_is_public_by_name_or_config_with_settings():
    by_name = sparsearch.load_dataset("synthetic", samples=200, seed=1)
    by_config = sparsearch.load_dataset(DataConfig(name="synthetic", samples=200, seed=1))
    assert by_name.fingerprint == by_config.fingerprint
    assert sparsearch.load_dataset(DataConfig(name="synthetic", samples=200), seed=1).fingerprint == by_name.fingerprint
    assert "load_dataset" in sparsearch.__all__
    with pytest.raises(sparsearch.SparsearchError, match=r"^data.name: unknown dataset 'nope'"):
        sparsearch.load_dataset("nope")
    with pytest.raises(sparsearch.SparsearchError, match=r"^load_dataset: sampels: unknown key"):
        sparsearch.load_dataset("synthetic", sampels=200)
    with pytest.raises(sparsearch.SparsearchError, match=r"^load_dataset: data must be a dataset's name"):
        sparsearch.load_dataset(3)


def test_digits_read_from_scikit_learns_file_equal_load_digits_and_import_no_scikit_learn():
    from sklearn.datasets import load_digits

    from sparsearch.data import builtin

    pool, bunch = builtin.digits(DataConfig(name="digits")), load_digits()
    assert np.array_equal(pool.x, bunch.data.astype(np.float32)) and np.array_equal(pool.y, bunch.target)
    code = ("import sys; from sparsearch.data import builtin; from sparsearch.config import DataConfig; "
            "builtin.digits(DataConfig(name='digits')); print(sorted(m for m in ('sklearn', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
