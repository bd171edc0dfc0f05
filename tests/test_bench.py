"""The throughput benchmark compares identical work and returns well-formed rows (timing is never asserted)."""

from __future__ import annotations

import math

import pytest
import torch

from sparsearch.bench import ROW_KEYS, bench_networks, format_table, plain_train_population, run_bench
from sparsearch.config import DataConfig, TrainConfig
from sparsearch.data import load_dataset
from sparsearch.engine.trainer import train_population
from sparsearch.errors import SparsearchError
from sparsearch.nets.mlp import parent_widths


@pytest.fixture(scope="module")
def synthetic():
    return load_dataset(DataConfig(name="synthetic"))


@pytest.mark.parametrize(
    "recipe",
    [TrainConfig(epochs=2), TrainConfig(epochs=2, batch_size=50, optimizer="adam", lr=0.003, weight_decay=1e-4)],
    ids=["sgd", "adam"],
)
def test_plain_loop_and_engine_compute_the_same_thing(synthetic, recipe):
    widths = parent_widths(synthetic.n_features, (300, 100), synthetic.n_classes)
    seeds = [0, 1]
    layers = bench_networks(widths, 0.5, seeds)
    assert [tuple(w.shape) for w, _ in layers] == [(2, 16, 150), (2, 150, 50), (2, 50, 4)]
    assert not torch.equal(layers[0][0][0], layers[0][0][1])  # two different networks

    plain = plain_train_population(layers, seeds, synthetic, recipe)
    engine = train_population(layers, seeds, synthetic, recipe)

    assert plain.train_loss.shape == engine.train_loss.shape == (2, 2)
    torch.testing.assert_close(plain.train_loss, engine.train_loss, rtol=0, atol=1e-5)
    # Accuracies are counts over the same examples; allow one example of float tie-breaking.
    assert (plain.val_acc - engine.val_acc).abs().max() <= 1 / synthetic.x_val.shape[0] + 1e-6
    assert (plain.test_acc - engine.test_acc).abs().max() <= 1 / synthetic.x_test.shape[0] + 1e-6


class Recorder:
    def __init__(self):
        self.total, self.done = None, 0

    def phase(self, label, total):
        self.total = total

    def advance(self, amount):
        self.done += amount


def test_run_bench_rows_and_table():
    threads = torch.get_num_threads()
    progress = Recorder()
    rows = run_bench(populations=(2,), sparsities=(0.0,), epochs=1, dataset="synthetic", progress=progress)
    assert progress.total == progress.done == (2 + 2) * 1 * 3  # plain + engine network-epochs, 3 repeats
    assert torch.get_num_threads() == threads  # the thread setting is restored
    assert len(rows) == 1
    row = rows[0]
    assert set(row) == set(ROW_KEYS)
    assert row["population"] == 2 and row["node_sparsity"] == 0.0 and row["epochs"] == 1
    assert row["dataset"] == "synthetic" and row["hidden"] == [300, 100]
    assert row["plain_networks_timed"] == 2
    for key in ("plain_net_epochs_per_s", "engine_net_epochs_per_s", "speedup"):
        assert math.isfinite(row[key]) and row[key] > 0
    table = format_table(rows + [{**row, "population": 64, "plain_networks_timed": 16}])
    lines = table.splitlines()
    assert len(lines) == 4 and len({len(line) for line in lines[:2]}) == 1
    assert "synthetic" in table and " 2 " in lines[2] and " 64 " in lines[3]


def test_plain_timed_on_at_most_plain_max_networks():
    rows = run_bench(populations=(3,), sparsities=(0.9,), epochs=1, hidden=(20,), dataset="synthetic", plain_max=1, repeats=1)
    assert rows[0]["plain_networks_timed"] == 1 and rows[0]["population"] == 3


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(SparsearchError, match="removes all"):
        run_bench(populations=(1,), sparsities=(0.99,), hidden=(10,), dataset="synthetic")
    with pytest.raises(SparsearchError, match="data.name"):
        run_bench(populations=(1,), sparsities=(0.0,), dataset="nope")
