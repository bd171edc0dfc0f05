"""Measured speed (issue 24): the timing's statistics by hand on a fake clock, every kernel
computing the network's function, trials measured after a run and afterwards, reused per setup,
exported, shown and reported; refusals in one line. No test depends on how fast anything runs."""

import json
import sqlite3

import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

import sparsearch
from conftest import assert_close_across_kernels, toml
from refusal import refused
from sparsearch.cli import app
from sparsearch.config import Config, MeasureConfig
from sparsearch.errors import SparsearchError
from sparsearch.measure import timing
from sparsearch.measure.kernels import CSR, MASKED, csr, folded, inference_modules, keeps_two_of_four, semi_structured
from sparsearch.measure.records import LATENCY_COLUMNS
from sparsearch.measure.trials import check_measure, cpu_model
from sparsearch.nets import build_parent
from sparsearch.config import ParentConfig


class FakeClock:
    """perf_counter that moves only when the timed function runs: call i lasts durations[i]."""

    def __init__(self, durations):
        self.now, self.durations, self.calls = 0.0, list(durations), 0

    def __call__(self):
        return self.now

    def step(self):
        self.now += self.durations[self.calls % len(self.durations)]
        self.calls += 1


def test_time_call_takes_the_median_and_interquartile_range_of_the_samples(monkeypatch):
    # warm-up 2 calls, a 1-call calibration loop of 5 ms (>= 1 ms: k = 1), then 7 samples of one call each
    durations = [9e-3, 9e-3, 5e-3, 1e-3, 2e-3, 3e-3, 4e-3, 5e-3, 6e-3, 7e-3]
    clock = FakeClock(durations)
    monkeypatch.setattr(timing.time, "perf_counter", clock)
    result = timing.time_call(clock.step, warmup=2, repeats=7)
    assert clock.calls == 2 + 1 + 7
    # samples 1..7 ms: median 4 ms; quartiles (exclusive method, positions (n + 1) / 4 and 3 (n + 1) / 4) 2 and 6 ms
    assert (result.median, result.iqr, result.samples) == (pytest.approx(4e-3), pytest.approx(4e-3), 7)


def test_time_call_doubles_the_inner_loop_until_a_sample_lasts_min_seconds(monkeypatch):
    clock = FakeClock([1e-4])  # every call 0.1 ms: loops of 1, 2, 4, 8 calls, then 16 >= 1 ms
    monkeypatch.setattr(timing.time, "perf_counter", clock)
    result = timing.time_call(clock.step, warmup=0, repeats=3)
    assert clock.calls == (1 + 2 + 4 + 8 + 16) + 3 * 16
    assert result.median == pytest.approx(1e-4) and result.iqr == pytest.approx(0) and result.samples == 3


def _masked_mlp():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 3))
    for layer in (module[0], module[2]):
        nn.utils.prune.random_unstructured(layer, "weight", 0.6)
    return module.eval()


def test_folding_zeroes_exactly_the_masked_weights_and_leaves_the_module_alone():
    module = _masked_mlp()
    dense = folded(module)
    for original, plain in zip((module[0], module[2]), (dense[0], dense[2])):
        assert not hasattr(plain, "weight_mask") and isinstance(plain.weight, nn.Parameter)
        assert torch.equal(plain.weight == 0, original.weight_mask == 0)
        assert hasattr(original, "weight_mask")  # the trial's module keeps its prune buffers
    x = torch.randn(5, 12)
    assert torch.equal(dense(x), module(x))


@pytest.mark.parametrize("layer, shape", [
    (nn.Linear(12, 7), (4, 12)),
    (nn.Conv1d(3, 5, 3, stride=2, padding=1), (4, 3, 11)),
    (nn.Conv2d(3, 6, 3, stride=1, padding=2, dilation=2), (4, 3, 9, 7)),
    (nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False), (2, 4, 8, 8)),
])
def test_csr_kernels_compute_the_layers_function(layer, shape):
    torch.manual_seed(1)
    nn.utils.prune.random_unstructured(layer, "weight", 0.7)
    module = nn.Sequential(layer, nn.ReLU()).eval()
    x = torch.randn(shape)
    sparse = csr(folded(module))
    assert type(sparse[0]).__name__ in ("CsrLinear", "CsrConv") and sparse[0].weight.layout == torch.sparse_csr
    with torch.no_grad():
        assert_close_across_kernels(sparse(x), module(x))


@pytest.mark.parametrize("kind, shape", [("mlp", (20,)), ("cnn1d", (1, 40)), ("lenet5", (1, 8, 8)),
                                         ("resnet20", (3, 8, 8))])
def test_every_kernel_of_a_parent_computes_its_logits(kind, shape):
    settings = {"resnet20": {"channels": [4, 8, 16]}, "mlp": {"hidden": [16, 8]}}.get(kind, {})
    net = build_parent(ParentConfig(kind=kind, **settings), shape, 4)
    params = net.init(0)
    from sparsearch.pruning import mask_from_scores, random_scores
    from sparsearch.spaces.weight import WeightMask

    mask = WeightMask(tuple(mask_from_scores(random_scores(net.weight_shapes, torch.Generator().manual_seed(0)),
                                             0.8, "uniform")))
    module = net.module(params, mask).eval()
    x = torch.randn(6, int(np.prod(shape)))
    ways = inference_modules(module, "weight", "cpu")
    assert set(ways) == {MASKED, CSR}
    with torch.no_grad():
        expected = module(x)
        assert torch.equal(ways[MASKED](x), expected)
        assert_close_across_kernels(ways[CSR](x), expected)
    assert set(inference_modules(net.module(params), "node", "cpu")) == {"compact"}


def test_two_of_four_is_checked_per_group_of_four_inputs():
    w = torch.tensor([[1.0, 0, 2, 0, 0, 0, 0, 3], [0, 0, 0, 0, 1, 1, 0, 0]])
    assert keeps_two_of_four(w)
    w[1, 6] = 1  # three of the second row's second group
    assert not keeps_two_of_four(w)
    assert not keeps_two_of_four(torch.ones(2, 6) * torch.tensor([1.0, 0, 0, 0, 0, 0]))  # 6 inputs: no groups of 4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="2:4 semi-structured kernels run only on CUDA")
def test_two_of_four_is_timed_against_dense_on_cuda():
    from sparsearch.measure.timing import time_call

    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 128)).half().cuda().eval()
    for layer in (module[0], module[2]):
        keep = torch.zeros_like(layer.weight).reshape(layer.weight.shape[0], -1, 4)
        keep[..., :2] = 1
        nn.utils.prune.custom_from_mask(layer, "weight", keep.reshape(layer.weight.shape))
    ways = inference_modules(module, "weight", "cuda")
    assert "2:4" in ways and semi_structured(folded(module)) is not None
    x = torch.randn(256, 512, device="cuda", dtype=torch.half)
    with torch.no_grad():
        torch.testing.assert_close(ways["2:4"](x), ways[MASKED](x), rtol=1e-2, atol=1e-2)
        times = {name: time_call(lambda net=net: net(x), 10, 20, "cuda").median for name, net in ways.items()}
    assert all(t > 0 for t in times.values()), times


def _config(tmp_path, name, space="node", **measure):
    return {"experiment": {"name": name, "seeds": 2}, "data": {"name": "synthetic", "samples": 200},
            "parent": {"hidden": [16, 8]}, "train": {"epochs": 1}, "engine": {"threads": 1},
            "search": {"space": space, "sparsities": [0.5, 0.9], "arms": ["dense", "random", "magnitude"]},
            "measure": {"repeats": 3, "warmup": 1, "batch_size": 32, **measure}}


def _speed_records(store):
    db = sqlite3.connect(store)
    try:
        return [json.loads(v) for (v,) in db.execute("SELECT value FROM records WHERE type = 'speed'")]
    finally:
        db.close()


@pytest.mark.parametrize("space, kernels", [("node", {"compact"}), ("weight", {MASKED, CSR})])
def test_a_run_with_latency_on_measures_every_trial_once_per_setup(tmp_path, space, kernels):
    store = tmp_path / "s.db"
    study = sparsearch.run(_config(tmp_path, space, space, latency=True), store=store)
    trials = study.trials()
    assert trials[list(LATENCY_COLUMNS)].notna().all().all()
    assert set(trials.latency_kernel) <= kernels
    assert (trials.latency_device == f"cpu: {cpu_model()}, 1 thread").all()
    records = _speed_records(store)
    assert len(records) == trials.trial_key.nunique()
    for record in records:  # the headline is the fastest kernel at the batch size, every kernel kept
        assert set(record["kernels"]) == kernels
        assert record["ms"] == min(k["ms"] for k in record["kernels"].values())
        assert record["setup"] == {"device": f"cpu: {cpu_model()}, 1 thread", "batch_size": 32, "warmup": 1,
                                   "repeats": 3, "kernel": "torch"}
    table = study.table("kernels")  # every kernel's figures per trial; the fastest is the headline
    assert len(table) == len(trials) * len(kernels) and set(table.kernel) == kernels
    fastest = table[table.fastest].set_index("trial_key")
    assert len(fastest) == len(trials)
    for row in trials.itertuples():
        assert fastest.loc[row.trial_key, "kernel"] == row.latency_kernel
        assert fastest.loc[row.trial_key, "latency_ms"] == row.latency_ms
    again = sparsearch.run(_config(tmp_path, space, space, latency=True), store=store)
    assert _speed_records(store) == records  # reused, not timed again
    assert again.outcome.trained == 0


def test_measure_afterwards_reuses_per_setup_and_exports_the_latest(tmp_path):
    store = tmp_path / "s.db"
    study = sparsearch.run(_config(tmp_path, "later"), store=store)
    assert study.trials()[list(LATENCY_COLUMNS)].isna().all().all()
    runner = CliRunner()
    first = runner.invoke(app, ["measure", "later", "--store", str(store), "--quiet"])
    assert first.exit_code == 0, first.output
    keys = study.trials().trial_key.nunique()
    assert f"{keys} networks measured now, 0 reused" in first.output
    assert "later: measured speed" in first.output and "compact" in first.output
    second = runner.invoke(app, ["measure", "later", "--store", str(store), "--quiet"])
    assert f"0 networks measured now, {keys} reused" in second.output
    exported = runner.invoke(app, ["export", "--store", str(store), "--experiment", "later", "--kernels"])
    lines = exported.output.strip().splitlines()
    assert lines[0].startswith("experiment,arm,sparsity,seed,weight_sparsity,kernel,latency_ms")
    assert len(lines) == 1 + len(study.trials()) and all(",compact," in line for line in lines[1:])
    trials = study.measure(batch_size=8)  # another setup: measured anew, and the export shows it
    assert len(_speed_records(store)) == 2 * keys
    by_batch = {b: {r["trial"]: r for r in _speed_records(store) if r["setup"]["batch_size"] == b} for b in (8, 32)}
    for row in trials.itertuples():
        assert row.latency_ms == by_batch[8][row.trial_key]["ms"]
    trials = study.measure()  # the first setup again: every figure reused, and shown again
    assert len(_speed_records(store)) == 2 * keys
    for row in trials.itertuples():
        assert row.latency_ms == by_batch[32][row.trial_key]["ms"]
    shown = runner.invoke(app, ["show", "later", "--store", str(store)])
    assert "measured speed" in shown.output and "cpu: " in shown.output
    out = tmp_path / "report"
    study.report(out)
    html = (out / "index.html").read_text()
    assert 'id="speed"' in html and (out / "speed.svg").exists()


def test_a_trial_without_stored_weights_is_timed_at_its_own_shapes_and_pattern(tmp_path):
    from sparsearch.networks import trial_network
    from sparsearch.store import Store

    config = _config(tmp_path, "w", "weight")
    config["store"] = {"save_weights": True}
    study = sparsearch.run(config, store=tmp_path / "s.db")
    node = sparsearch.run({**_config(tmp_path, "n"), "store": {"save_weights": True}}, store=tmp_path / "s.db")
    with Store.open(tmp_path / "s.db", write=True) as db:
        keys = list(study.trials().trial_key) + list(node.trials().trial_key)
        trained = {key: folded(trial_network(db, key)) for key in keys}
        db.db.execute("DELETE FROM weights")
        for key in keys:
            initial = folded(trial_network(db, key, stored_weights=False))
            got, want = initial.state_dict(), trained[key].state_dict()
            assert {k: v.shape for k, v in got.items()} == {k: v.shape for k, v in want.items()}
            for name in (n for n in want if n.endswith("weight")):
                assert torch.equal(got[name] == 0, want[name] == 0), name  # the mask's zeros, not the trained values'
        with pytest.raises(SparsearchError, match="no weights stored"):
            trial_network(db, keys[0])


def test_measure_settings_are_validated_and_the_batch_bounded():
    with pytest.raises(Exception, match="batch_size"):
        MeasureConfig(batch_size=0)
    config = Config.model_validate({"engine": {"max_memory_gb": 0.01}, "measure": {"batch_size": 1_000_000}})
    net = build_parent(ParentConfig(hidden=[300, 100]), (64,), 10)
    with pytest.raises(SparsearchError, match=r"measure.batch_size: 1000000 makes timing one network need about"):
        check_measure(net, config)


@pytest.mark.parametrize("args, fragment", [
    (["measure", "nope", "--store", "{store}"], "no experiment 'nope'"),
    (["measure", "tiny", "--store", "{store}", "--kernel", "tpu"], "measure.kernel: allowed: 'torch' or 'onnxruntime'"),
    (["measure", "tiny", "--store", "{store}", "--repeats", "0"], "measure.repeats"),
    (["measure", "tiny", "--store", "{store}", "--device", "gpu"], "engine.device"),
    (["measure", "tiny", "--store", "{store}", "--threads", "0"], "engine.threads"),
])
def test_bad_measure_arguments_are_one_line_and_leave_the_store(args, fragment, tmp_path, finished_store):
    assert fragment in refused(args, tmp_path, finished_store)


def test_a_supernet_experiment_is_not_measured_here(tmp_path):
    config = toml(experiment={"name": "sn", "seeds": 1, "kind": "supernet"},
                  supernet={"epochs": 1, "evaluations": 4, "search_population": 2, "retrain": 0, "strategies": ["random"]})
    (tmp_path / "c.toml").write_text(config)
    runner = CliRunner()
    assert runner.invoke(app, ["run", str(tmp_path / "c.toml"), "--store", str(tmp_path / "s.db"), "--quiet"]).exit_code == 0
    result = runner.invoke(app, ["measure", "sn", "--store", str(tmp_path / "s.db")])
    assert result.exit_code == 2 and "measure times the trials of mask studies" in result.output


def test_onnxruntime_times_the_exported_network(tmp_path):
    pytest.importorskip("onnxruntime", reason="onnxruntime is the optional extra sparsearch[onnx]")
    study = sparsearch.run(_config(tmp_path, "ort", "weight"), store=tmp_path / "s.db")
    trials = study.measure(kernel="onnxruntime")
    assert (trials.latency_kernel == "onnxruntime").all() and (trials.latency_ms > 0).all()
    records = _speed_records(tmp_path / "s.db")
    assert {r["setup"]["kernel"] for r in records} == {"onnxruntime"}
    assert all(set(r["kernels"]) == {"onnxruntime"} for r in records)
