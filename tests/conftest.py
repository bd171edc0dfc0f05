import sqlite3
from pathlib import Path

import pytest
import tomli_w
import torch
from torch import nn
from typer.testing import CliRunner

from sparsearch.cli import app
from sparsearch.config import DataConfig
from sparsearch.data import load_dataset


@pytest.fixture(scope="session")
def synthetic():
    """The seeded Gaussian-cluster dataset: small, fast, learnable."""
    return load_dataset(DataConfig(name="synthetic", samples=400))


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)


BASE = {
    "experiment": {"name": "tiny", "seeds": 2},
    "data": {"name": "synthetic", "samples": 200},
    "parent": {"hidden": [16]},
    "train": {"epochs": 2},
    "search": {"sparsities": [0.5], "arms": ["dense", "random"]},
}


TIMINGS = ("train_seconds", "search_seconds", "latency_ms", "latency_b1_ms", "latency_iqr_ms", "latency_kernel")
"""Export columns of wall time, the ones that cannot repeat from run to run."""


def without_timings(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMINGS} for row in rows]


def toml(**changes) -> str:
    """BASE with `section={key: value}` merged in (a value of None drops the key)."""
    document = {name: dict(table) for name, table in BASE.items()}
    for section, table in changes.items():
        merged = {**document.get(section, {}), **table}
        document[section] = {key: value for key, value in merged.items() if value is not None}
    return tomli_w.dumps(document)


def sql(store: Path, statement: str) -> None:
    db = sqlite3.connect(store)
    db.execute(statement)
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


@pytest.fixture(scope="session")
def finished_store(tmp_path_factory) -> Path:
    """A store holding the finished experiment `tiny` (BASE), checkpointed into one file."""
    folder = tmp_path_factory.mktemp("finished")
    (folder / "c.toml").write_text(toml())
    result = CliRunner().invoke(app, ["run", str(folder / "c.toml"), "--store", str(folder / "s.db"), "--quiet"])
    assert result.exit_code == 0, result.output
    sql(folder / "s.db", "PRAGMA wal_checkpoint(TRUNCATE)")
    return folder / "s.db"


class Recording:
    """A Progress that keeps [label, total, advanced] per phase; every advance is positive."""

    def __init__(self):
        self.phases = []

    def phase(self, label, total):
        self.phases.append([label, total, 0])

    def advance(self, amount):
        assert amount > 0
        self.phases[-1][2] += amount


def fresh_like(module):
    """A module of the same architecture initialised now (PyTorch's defaults from the global seed)."""
    import copy

    fresh = copy.deepcopy(module)
    for m in fresh.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    return fresh


def reference_augment(x, shape, augment, seed, epoch, step):
    """[data] augment written out without torchvision, one example at a time in numpy: the
    draws of (seed, epoch, step) give each example its crop offsets and flip; it is padded with
    zeros by a side's eighth (at least 1) with "crop", cropped back to its size at those
    offsets, then mirrored left to right if its flip is 1 and "flip" is asked for."""
    import numpy as np

    from sparsearch.seeding import generator

    channels, height, width = shape
    pad = max(1, min(height, width) // 8) if "crop" in augment else 0
    gen = generator("augment", seed, epoch, step)
    offsets = torch.randint(0, 2 * pad + 1, (len(x), 2), generator=gen).numpy()
    flips = torch.randint(0, 2, (len(x),), generator=gen).numpy()
    out = []
    for image, (dy, dx), flip in zip(x.numpy().reshape(-1, channels, height, width), offsets, flips):
        crop = np.pad(image, ((0, 0), (pad, pad), (pad, pad)))[:, dy : dy + height, dx : dx + width]
        out.append((crop[:, :, ::-1] if flip and "flip" in augment else crop).reshape(-1))
    return torch.from_numpy(np.stack(out))


def train_alone(model, seed, data, recipe, augment=()):
    """The textbook loop the engine must match: `model` trained with F.cross_entropy (with the
    recipe's label smoothing), autograd and the recipe's torch.optim optimizer at each step's
    scheduled rate, reading the training set in the engine's order of `seed`, every batch
    augmented by `reference_augment`, for the recipe's epochs; returns `model`."""
    import torch.nn.functional as F

    from sparsearch.engine.optim import make_optimizer
    from sparsearch.engine.schedule import learning_rate, set_learning_rate
    from sparsearch.engine.trainer import batch_orders, steps_per_epoch

    optimizer = make_optimizer(list(model.parameters()), recipe)
    batches = batch_orders([seed], data.x_train.shape[0], recipe.batch_size)
    per_epoch = steps_per_epoch(data.x_train.shape[0], recipe.batch_size)
    for step in range(recipe.epochs * per_epoch):
        idx = next(batches)[0]
        x = data.x_train[idx]
        if augment:
            x = reference_augment(x, data.shape, augment, seed, *divmod(step, per_epoch))
        loss = F.cross_entropy(model(x), data.y_train[idx], label_smoothing=recipe.label_smoothing)
        optimizer.zero_grad()
        loss.backward()
        set_learning_rate(optimizer, learning_rate(recipe, step, per_epoch))
        optimizer.step()
    return model


ACROSS_KERNELS = 1e-4
"""Relative tolerance of `assert_close_across_kernels`: about 840 fp32 ulps of the largest value."""


def assert_close_across_kernels(got, expected, msg=None, scale=None, tolerance=ACROSS_KERNELS):
    """`got` equals `expected` up to the rounding of fp32 sums that two different kernels order
    differently (the population's batched GEMMs against nn.Linear/nn.Conv2d; and each CPU model
    blocks its sums its own way: AMX, AVX512, AVX2 and SSE kernels all differ in the last digits).

    That rounding scales with the values summed, not with 1: a length-K dot product reordered
    moves by about sqrt(K) ulps of its terms, and training carries it through every step. So the
    tolerance is ACROSS_KERNELS times `scale`, the largest |expected| unless the terms are larger
    than the result (a batch mean of centred activations: pass their standard deviation); a
    comparison with no training in between may pass a tighter `tolerance`. A real
    error (a wrong mask, bias, statistic or update) moves values by a visible fraction of that
    scale, far above it. Comparisons that run the same kernels on both sides stay exact instead."""
    if scale is None:
        scale = float(expected.detach().abs().max()) if expected.numel() else 0.0
    torch.testing.assert_close(got, expected, rtol=0, atol=tolerance * float(scale),
                               msg=None if msg is None else lambda detail: f"{msg}: {detail}")


def linears_of(layers):
    """One unstacked MLP's (weight [in, out], bias) layers as `nn.Linear` modules."""
    out = []
    for w, b in layers:
        linear = nn.Linear(w.shape[0], w.shape[1])
        with torch.no_grad():
            linear.weight.copy_(w.t())
            linear.bias.copy_(b)
        out.append(linear)
    return out


def assert_tested_once_as_every_epoch(trainer, layers, seeds):
    """Training `layers` with test accuracy evaluated once (`Chunk.test_once`) gives, bit for bit,
    the per-epoch test accuracy at each network's best validation epoch and at its last."""
    from sparsearch.engine.executor import Chunk

    every, once = (trainer.train_many([Chunk(layers, seeds, test_once=flag)]) for flag in (False, True))
    ((_, every),), ((_, once),) = every, once
    assert once.test_acc.shape[1] == 0 and torch.equal(once.val_acc, every.val_acc)
    best = every.val_acc.argmax(1)  # the first epoch of the highest validation accuracy
    assert torch.equal(once.test_best, every.test_acc[torch.arange(len(seeds)), best])
    assert torch.equal(once.test_final, every.test_acc[:, -1])
    assert not torch.equal(once.test_best, once.test_final)  # best and last differ somewhere: the test can fail
