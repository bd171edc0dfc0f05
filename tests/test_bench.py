"""The throughput benchmark compares identical work and returns well-formed rows (timing is never asserted)."""

import dataclasses
import math

import pytest
import torch

from sparsearch.bench import (CONV_KINDS, CONV_METHODS, CONV_RECIPE, METHODS, VIT_RECIPE, Networks, Workload,
                              conv_workloads, format_table, run_bench, vit_workloads)
from sparsearch.bench.ceiling import conv_ceiling, products
from sparsearch.bench.data import CIFAR_SHAPED, cifar_shaped
from sparsearch.bench.ensemble import ensemble_train
from sparsearch.bench.plain import plain_train
from sparsearch.bench.step import STEP_COLUMNS
from sparsearch.config import DataConfig, ParentConfig, TrainConfig
from sparsearch.data import load_dataset
from sparsearch.engine.chunking import chunk_slices
from sparsearch.engine.trainer import train_population
from sparsearch.errors import SparsearchError
from sparsearch.nets import build_parent
from sparsearch.nets.base import rows as network, stacked
from sparsearch.nets.conv import ConvLayer, ConvNet
from sparsearch.nets.mlp import MLP, parent_widths
from sparsearch.spaces.node import full_mask
from conftest import assert_close_across_kernels

RECIPES = [TrainConfig(epochs=2), TrainConfig(epochs=2, batch_size=50, optimizer="adam", lr=0.003, weight_decay=1e-4)]


@pytest.mark.parametrize("recipe", RECIPES, ids=["sgd", "adam"])
def test_all_four_methods_compute_the_same_training_losses(synthetic, recipe):
    widths = parent_widths(synthetic.n_features, (24, 12), synthetic.n_classes)
    nets = Networks.build(MLP(widths), 0.5, 3)
    compacted = nets.compacted()
    assert [tuple(w.shape) for w, _ in compacted] == [(3, 16, 12), (3, 12, 6), (3, 6, 4)]
    engine = train_population(MLP(widths), compacted, nets.seeds, synthetic, recipe).train_loss
    bf16 = train_population(MLP(widths), compacted, nets.seeds, synthetic, recipe, precision="bf16").train_loss
    torch.testing.assert_close(bf16, engine, rtol=0, atol=2e-2)
    modules = [MLP(widths).module(network(compacted, p)) for p in range(3)]
    plain = torch.tensor([plain_train(modules[p], p, synthetic, recipe) for p in range(3)])
    layers, masks = nets.masked()
    masked = train_population(MLP(widths), layers, nets.seeds, synthetic, recipe, masks=masks).train_loss
    ensemble = ensemble_train([MLP(widths).module(network(compacted, p)) for p in range(3)], nets.seeds, synthetic,
                              recipe)
    for other in (plain, masked, ensemble):
        assert_close_across_kernels(other.float(), engine)


def test_masked_layout_is_the_compacted_network_embedded_in_the_parent(synthetic):
    widths = parent_widths(synthetic.n_features, (10, 6), synthetic.n_classes)
    nets = Networks.build(MLP(widths), 0.5, 2)
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


@pytest.fixture(scope="module")
def small_digits():
    """A few digits images (1x8x8) for LeNet-5."""
    data = load_dataset(DataConfig(name="digits"))
    return dataclasses.replace(data, x_train=data.x_train[:150], y_train=data.y_train[:150], x_val=data.x_val[:50],
                               y_val=data.y_val[:50], x_test=data.x_test[:50], y_test=data.y_test[:50])


@pytest.mark.parametrize("kind", ["cnn1d", "lenet5"])
def test_conv_methods_compute_the_same_training_losses(synthetic, small_digits, kind):
    data = synthetic if kind == "cnn1d" else small_digits  # synthetic's 16 features: a 1x16 signal
    recipe = TrainConfig(epochs=1, **CONV_RECIPE)
    parent = build_parent(ParentConfig(kind=kind), data.shape, data.n_classes)
    nets = Networks.build(parent, 0.0, 2)
    compacted = nets.compacted()
    engine = train_population(dataclasses.replace(parent, layout="im2col"), compacted, nets.seeds, data,
                              recipe).train_loss
    grouped = train_population(dataclasses.replace(parent, layout="grouped"), compacted, nets.seeds, data,
                               recipe).train_loss
    plain = torch.tensor([plain_train(parent.module(network(compacted, p)), p, data, recipe) for p in range(2)])
    ensemble = ensemble_train([parent.module(network(compacted, p)) for p in range(2)], nets.seeds, data, recipe)
    assert engine.shape == (2, 1)
    for other in (grouped, plain, ensemble):
        assert_close_across_kernels(other.float(), engine)


@pytest.fixture
def fake_peak(monkeypatch):
    """Skip measuring the torch.mm peaks (seconds each; test_run_bench_rows_and_table measures them)."""
    monkeypatch.setattr("sparsearch.bench.matmul_peak_gflops", lambda dtype, device: 100.0)


def test_run_bench_conv_rows(fake_peak):
    data = load_dataset(DataConfig(name="synthetic"))  # as run_bench loads it
    workloads = [Workload("synthetic", (), 2, 0.0, "cnn1d")]
    result = run_bench(workloads, epochs=1, plain_max=1, repeats=1)
    assert [r["method"] for r in result.rows] == list(CONV_METHODS) and result.steps == []
    assert [r["networks_timed"] for r in result.rows] == [1, 2, 2, 2]
    assert {(r["optimizer"], r["lr"], r["batch_size"]) for r in result.rows} == {("adam", 0.01, 100)}
    parent = build_parent(ParentConfig(kind="cnn1d"), data.shape, data.n_classes)
    flops = Networks.build(parent, 0.0, 1).forward_flops()
    n_train, n_eval = data.x_train.shape[0], data.x_val.shape[0] + data.x_test.shape[0]
    for row in result.rows:
        assert math.isfinite(row["gflops"]) and row["gflops"] > 0 and row["peak_fraction"] == row["gflops"] / 100
        assert row["gflops"] == pytest.approx(row["net_epochs_per_s"] * flops * (3 * n_train + n_eval) / 1e9)
    assert "synthetic cnn1d P=2 s=0" in format_table(result.rows).splitlines()[2]


def test_cli_bench_conv_only_prints_the_rows(monkeypatch, fake_peak):
    """`--no-mlp` keeps the conv workloads only (here shrunk to a tiny one, as the unit test above)."""
    from typer.testing import CliRunner

    import sparsearch.bench as bench
    from sparsearch.cli import app

    tiny = lambda populations, kinds: [Workload("synthetic", (), p, 0.0, "cnn1d") for p in populations]  # noqa: E731
    monkeypatch.setattr(bench, "conv_workloads", tiny)
    result = CliRunner().invoke(app, ["bench", "--no-mlp", "--conv-populations", "2", "--epochs", "1", "--repeats",
                                      "1", "--plain-max", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("synthetic cnn1d P=2")]
    assert [line.split()[4] for line in lines] == list(CONV_METHODS)
    assert "load average" in result.stdout and "at end" in result.stdout


def test_cli_bench_refuses_an_unknown_conv_kind_in_one_line():
    from typer.testing import CliRunner

    from sparsearch.cli import app

    refused = CliRunner().invoke(app, ["bench", "--no-mlp", "--conv-kinds", "lenet5,conv5", "--quiet"])
    assert refused.exit_code == 2 and "--conv-kinds: unknown 'conv5'" in refused.output


def test_conv_workloads_by_kind():
    assert [(w.kind, w.dataset, w.population) for w in conv_workloads((16, 64))] == [
        ("cnn1d", "mnist1d", 16), ("cnn1d", "mnist1d", 64), ("lenet5", "digits", 16)]
    assert [(w.kind, w.dataset, w.population) for w in conv_workloads((16, 64), CONV_KINDS)][3:] == [
        ("conv4", CIFAR_SHAPED, 16), ("resnet20", CIFAR_SHAPED, 16)]
    assert [(w.kind, w.population) for w in conv_workloads((8,), ["resnet20", "conv4"])] == [("conv4", 8),
                                                                                           ("resnet20", 8)]
    with pytest.raises(SparsearchError, match="--conv-kinds: unknown 'conv5'; the conv workloads are cnn1d"):
        conv_workloads((16,), ["conv5"])


def test_cifar_shaped_data_is_seeded_noise_of_cifar10s_shape():
    data = cifar_shaped(6, 2, 3)
    assert data.shape == (3, 32, 32) and data.n_classes == 10
    assert [t.shape[0] for t in (data.x_train, data.y_train, data.x_val, data.x_test)] == [6, 6, 2, 3]
    torch.testing.assert_close(cifar_shaped(6, 2, 3).x_test, data.x_test, rtol=0, atol=0)


def test_run_bench_cifar_parents_at_smoke_size(fake_peak):
    workloads = conv_workloads((2,), ["conv4", "resnet20"])
    result = run_bench(workloads, epochs=1, plain_max=1, repeats=1, datasets={CIFAR_SHAPED: cifar_shaped(8, 4, 4)})
    assert [(r["kind"], r["method"], r["networks_timed"]) for r in result.rows] == [
        (kind, method, timed) for kind in ("conv4", "resnet20")
        for method, timed in (("plain", 1), ("torch.func", 2), ("engine", 2))]
    for row in result.rows:
        assert math.isfinite(row["net_epochs_per_s"]) and row["net_epochs_per_s"] > 0
    table = format_table(result.rows).splitlines()
    assert "cifar-shaped conv4 P=2 s=0" in table[2] and "cifar-shaped resnet20 P=2 s=0" in table[5]


def test_bad_workloads_are_one_line_errors():
    with pytest.raises(SparsearchError, match="removes all"):
        run_bench([Workload("synthetic", (10,), 1, 0.99)])
    with pytest.raises(SparsearchError, match="data.name"):
        run_bench([Workload("nope", (10,), 1, 0.0)])


def _tiny_convnet(layout):
    return ConvNet("tiny", (1, 6, 6), (ConvLayer(2, 3, padding=1, pool=2),), (4,), 3, layout=layout)


@pytest.mark.parametrize("layout", ["grouped", "im2col"])
def test_conv_ceiling_times_the_layers_products_and_counts_their_flops_by_hand(layout):
    parent = _tiny_convnet(layout)
    params = stacked([parent.init(s) for s in range(2)])
    layers = products(parent, params, batch=5)
    assert [p.input_grad for p in layers] == [False, True, True]  # no gradient of the data
    assert [tuple(p.input_shape) for p in layers] == [
        (5, 2, 6, 6) if layout == "grouped" else (2, 5, 6, 6, 1), (2, 5, 18), (2, 5, 4)]
    # per example: conv 2x1x3x3 weights at 6x6 positions, dense 18x4 and 4x3; x2 FLOPs, x3 training, x5 batch, x2 P
    per_example = 2 * (2 * 9 * 36 + 18 * 4 + 4 * 3)
    ceiling = conv_ceiling(parent, params, batch=5, repeats=1)
    assert ceiling.flops == 3 * per_example * 5 * 2 == 3 * parent.cost(full_mask(parent.widths[1:-1])).flops * 10
    assert ceiling.seconds > 0 and ceiling.gflops == ceiling.flops / ceiling.seconds / 1e9


def test_conv_ceiling_products_compute_each_networks_layer():
    parent = _tiny_convnet("grouped")
    params = stacked([parent.init(s) for s in range(2)])
    conv = products(parent, params, batch=5)[0]
    x = torch.randn(5, 2, 6, 6)
    for p in range(2):
        alone = torch.nn.functional.conv2d(x[:, p : p + 1], params[0][0][p], params[0][1][p], padding=1)
        torch.testing.assert_close(conv.run(x, *conv.weights)[:, 2 * p : 2 * p + 2], alone, rtol=1e-5, atol=1e-6)


def test_resnet20_ceiling_counts_every_convolution_at_its_stride():
    parent = build_parent(ParentConfig(kind="resnet20", channels=[2, 4, 8]), (3, 8, 8), 10)
    params = stacked([parent.init(0)])
    layers = products(parent, params, batch=3)
    # layer 7 reads stage 1's 8x8 maps at stride 2
    assert len(layers) == 20 and [p.input_shape[2:] for p in layers[6:9]] == [(8, 8), (8, 8), (4, 4)]
    ceiling = conv_ceiling(parent, params, batch=3, repeats=1)
    assert ceiling.flops == 3 * parent.cost(full_mask(parent.widths[1:-1])).flops * 3


def test_conv_rows_report_their_fraction_of_the_ceiling(fake_peak):
    workloads = [Workload("synthetic", (20,), 2, 0.0), Workload("synthetic", (), 2, 0.0, "cnn1d")]
    result = run_bench(workloads, epochs=1, plain_max=1, repeats=1, step_shapes=False)
    mlp, conv = result.rows[: len(METHODS)], result.rows[len(METHODS):]
    assert {(r["ceiling_gflops"], r["ceiling_fraction"]) for r in mlp} == {(None, None)}
    [ceiling] = {r["ceiling_gflops"] for r in conv}
    assert ceiling > 0 and all(r["ceiling_fraction"] == r["gflops"] / ceiling for r in conv)
    table = format_table(result.rows).splitlines()
    assert "% of ceiling" in table[0] and table[2].split()[9] == "-" and table[-1].split()[9].endswith("%")


def test_conv_ceiling_runs_in_the_engines_chunks(monkeypatch):
    parent = _tiny_convnet("grouped")
    params = stacked([parent.init(s) for s in range(3)])
    whole = conv_ceiling(parent, params, batch=5, repeats=1)
    monkeypatch.setattr("sparsearch.engine.chunking.ACTIVATION_BYTES", 1)  # one network per chunk
    assert chunk_slices(3, parent.footprint(params, 5), 5) == [slice(0, 1), slice(1, 2), slice(2, 3)]
    one_by_one = conv_ceiling(parent, params, batch=5, repeats=1)
    assert whole.chunks == (3,) and one_by_one.chunks == (1, 1, 1) and one_by_one.flops == whole.flops


def test_vit_methods_compute_the_same_training_losses_and_its_rows_have_no_ceiling(small_digits, fake_peak):
    recipe = TrainConfig(epochs=1, **VIT_RECIPE)
    parent = build_parent(ParentConfig(kind="vit"), small_digits.shape, small_digits.n_classes)
    nets = Networks.build(parent, 0.0, 2)
    compacted = nets.compacted()
    engine = train_population(parent, compacted, nets.seeds, small_digits, recipe).train_loss
    plain = torch.tensor([plain_train(parent.module(network(compacted, p)), p, small_digits, recipe) for p in range(2)])
    ensemble = ensemble_train([parent.module(network(compacted, p)) for p in range(2)], nets.seeds, small_digits, recipe)
    for other in (plain, ensemble):
        assert_close_across_kernels(other.float(), engine)
    result = run_bench(vit_workloads((2,)), epochs=1, plain_max=1, repeats=1, datasets={"digits": small_digits})
    assert [(r["method"], r["networks_timed"], r["optimizer"], r["ceiling_fraction"]) for r in result.rows] == [
        ("plain", 1, "adamw", None), ("torch.func", 2, "adamw", None), ("engine", 2, "adamw", None)]
    assert "digits vit P=2 s=0" in format_table(result.rows).splitlines()[2]
