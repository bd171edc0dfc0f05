"""The throughput benchmark compares identical work and returns well-formed rows (timing is never asserted)."""

import math

import pytest
import torch

from sparsearch.bench import METHODS, Networks, Workload, format_table, run_bench
from sparsearch.bench.ensemble import ensemble_train
from sparsearch.bench.plain import plain_train
from sparsearch.bench.step import STEP_COLUMNS
from sparsearch.config import TrainConfig
from sparsearch.engine.trainer import train_population
from sparsearch.errors import SparsearchError
from sparsearch.nets.mlp import MLP, parent_widths

RECIPES = [TrainConfig(epochs=2), TrainConfig(epochs=2, batch_size=50, optimizer="adam", lr=0.003, weight_decay=1e-4)]


@pytest.mark.parametrize("recipe", RECIPES, ids=["sgd", "adam"])
def test_all_four_methods_compute_the_same_training_losses(synthetic, recipe):
    widths = parent_widths(synthetic.n_features, (24, 12), synthetic.n_classes)
    nets = Networks.build(widths, 0.5, 3)
    compacted = nets.compacted()
    assert [tuple(w.shape) for w, _ in compacted] == [(3, 16, 12), (3, 12, 6), (3, 6, 4)]
    engine = train_population(MLP(widths), compacted, nets.seeds, synthetic, recipe).train_loss
    bf16 = train_population(MLP(widths), compacted, nets.seeds, synthetic, recipe, precision="bf16").train_loss
    torch.testing.assert_close(bf16, engine, rtol=0, atol=2e-2)
    plain = torch.tensor([plain_train([(w[p], b[p]) for w, b in compacted], p, synthetic, recipe) for p in range(3)])
    layers, masks = nets.masked()
    masked = train_population(MLP(widths), layers, nets.seeds, synthetic, recipe, masks=masks).train_loss
    ensemble = ensemble_train(compacted, nets.seeds, synthetic, recipe)
    for other in (plain, masked, ensemble):
        torch.testing.assert_close(other.float(), engine, rtol=0, atol=1e-5)


def test_masked_layout_is_the_compacted_network_embedded_in_the_parent(synthetic):
    widths = parent_widths(synthetic.n_features, (10, 6), synthetic.n_classes)
    nets = Networks.build(widths, 0.5, 2)
    _, masks = nets.masked()
    for p, mask in enumerate(nets.masks):
        assert masks[0][p].sum() == 16 * 5 and masks[1][p].sum() == 5 * 3 and masks[2][p].sum() == 3 * 4
        assert masks[1][p][list(mask.keep[0])][:, list(mask.keep[1])].all()


def test_run_bench_rows_and_table():
    threads = torch.get_num_threads()
    workloads = [Workload("synthetic", (20, 10), 3, 0.5), Workload("synthetic", (20, 10), 2, 0.0)]
    result = run_bench(workloads, epochs=1, plain_max=2, repeats=1)
    assert torch.get_num_threads() == threads and min(result.peaks.values()) > 0
    rows = result.rows[: len(METHODS)]
    assert [r["method"] for r in rows] == list(METHODS)
    assert [r["networks_timed"] for r in rows] == [2, 3, 3, 3, 3]
    [step] = result.steps  # the dense workload's shape only
    assert step["widths"] == [16, 20, 10, 4] and step["population"] == 2
    for key in ("gemm_fp32_ms", "gemm_bf16_ms", "engine_fp32_ms", "engine_bf16_ms", "autograd_fp32_ms"):
        assert math.isfinite(step[key]) and step[key] > 0
    assert step["fp32_vs_ceiling"] == step["engine_fp32_ms"] / step["gemm_fp32_ms"]
    assert "16-20-10-4 P=2 B=64" in format_table(result.steps, STEP_COLUMNS).splitlines()[2]
    for row in rows:
        for key in ("net_epochs_per_s", "gflops", "peak_fraction", "peak_rss_mb"):
            assert math.isfinite(row[key]) and row[key] > 0
    assert rows[0]["vs_plain"] == 1.0
    table = format_table(rows).splitlines()
    assert len(table) == 7 and "synthetic 20-10 P=3 s=0.5" in table[2] and "engine-masked" in table[4]


def test_bad_workloads_are_one_line_errors():
    with pytest.raises(SparsearchError, match="removes all"):
        run_bench([Workload("synthetic", (10,), 1, 0.99)])
    with pytest.raises(SparsearchError, match="data.name"):
        run_bench([Workload("nope", (10,), 1, 0.0)])
