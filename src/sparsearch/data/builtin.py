"""Datasets that need no files: scikit-learn's digits, generated MNIST-1D, and synthetic Gaussian clusters."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import numpy as np

from ..config import DataConfig
from ..engine.memory import refuse_over
from .splits import Pool

COPIES = 8
"""float64 copies of every generated feature alive at once while generating, splitting and
standardizing (a generous count: the estimate must not under-count)."""


def check_samples(name: str, samples: int, features: int) -> None:
    """Refuse a `samples` whose generated features would not fit in this machine's memory."""
    refuse_over(samples * features * COPIES * 8, "data.samples", samples, f"generating {name}",
                "use fewer samples")


def digits(cfg: DataConfig) -> Pool:
    """The 1797 8x8 digit images bundled with scikit-learn: 64 features (1x8x8 images), 10 classes.
    Read from scikit-learn's own file as `load_digits` reads it, without importing scikit-learn
    (and pandas with it: half a second) where the file is where scikit-learn keeps it."""
    table = _bundled_digits()
    if table is None:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        x, y = bunch.data, bunch.target
    else:
        x, y = table[:, :-1], table[:, -1]
    return Pool(x=x.astype(np.float32), y=y.astype(np.int64), n_classes=10, shape=(1, 8, 8))


def _bundled_digits() -> np.ndarray | None:
    """scikit-learn's `datasets/data/digits.csv.gz` (features then label per row), or None where absent."""
    spec = importlib.util.find_spec("sklearn")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            return np.loadtxt(path, delimiter=",")
    return None


def mnist1d(cfg: DataConfig) -> Pool:
    """MNIST-1D generated in memory (`cfg.samples or 5000`, seeded by `cfg.seed`), keeping its 80/20 test split;
    examples are 1x40 signals.

    `make_dataset` reseeds the global `random` and `numpy.random` generators; both are restored afterwards.
    """
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = cfg.samples or 5000
    check_samples("mnist1d", args.num_samples, max(args.template_len, args.final_seq_length) * 2)
    args.seed = cfg.seed
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        made = make_dataset(args)
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
    return Pool(
        x=made["x"].astype(np.float32),
        y=made["y"].astype(np.int64),
        n_classes=10,
        test=(made["x_test"].astype(np.float32), made["y_test"].astype(np.int64)),
        shape=(1, made["x"].shape[1]),
    )


def synthetic(cfg: DataConfig, n_classes: int = 4, n_features: int = 16, separation: float = 4.5) -> Pool:
    """Balanced Gaussian clusters with unit noise whose means are `separation` apart (seeded by `cfg.seed`).

    The means lie on random orthogonal directions, so every pair of classes overlaps equally:
    a small MLP reaches roughly 90-95% accuracy, not 100%.
    """
    n = cfg.samples or 600
    check_samples("synthetic", n, n_features)
    rng = np.random.default_rng(cfg.seed)
    directions, _ = np.linalg.qr(rng.standard_normal((n_features, n_classes)))
    means = separation / np.sqrt(2) * directions.T
    y = rng.permutation(np.arange(n) % n_classes)
    x = means[y] + rng.standard_normal((n, n_features))
    return Pool(x=x.astype(np.float32), y=y.astype(np.int64), n_classes=n_classes)
