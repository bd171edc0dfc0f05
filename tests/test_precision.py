"""bf16 mixed precision: the setting, its trial keys, its one-line notes, and every path that
trains or evaluates (mask studies, probes, super-networks) running in it."""

import warnings

import pytest
import torch

import sparsearch
from sparsearch.config import TrainConfig, config_from_dict
from sparsearch.data import load_dataset
from sparsearch.engine import precision
from sparsearch.engine.precision import SlowPrecisionWarning, lowered
from sparsearch.specs import precision_fields
from sparsearch.engine.probe import probe_scores
from sparsearch.engine.trainer import Trainer
from sparsearch.nets.mlp import MLP, init_parent, parent_widths
from sparsearch.probes import init_loss, steps as steps_probe
from sparsearch.seeding import generator
from sparsearch.spaces.node import sample_mask
from sparsearch.spaces.elastic import ElasticSpace
from sparsearch.store import Store
from sparsearch.supernet.run import SupernetRun, run_supernet
from sparsearch.supernet.train import train_supernet

from test_cli import sparsearch as cli

SMALL = {"experiment": {"name": "p", "seeds": 2}, "data": {"name": "synthetic", "samples": 300},
         "parent": {"hidden": [16, 8]}, "train": {"epochs": 8, "batch_size": 32},
         "search": {"sparsities": [0.5], "arms": ["dense", "random"]}}


def with_precision(raw, value):
    return {**raw, "engine": {"precision": value}}


def test_precision_enters_the_trial_key_and_fp32_keys_are_unchanged():
    assert precision_fields("fp32") == {} and precision_fields("bf16") == {"precision": "bf16"}


def test_a_bf16_run_keeps_its_own_trials_and_learns(tmp_path):
    store = tmp_path / "s.db"
    bf16 = sparsearch.run(with_precision(SMALL, "bf16"), store=store)
    assert bf16.outcome.trained == 4
    a = bf16.trials().set_index(["arm", "sparsity", "seed"])["final_test_acc"]
    fp32 = sparsearch.run(SMALL, store=store, replace=True)  # same experiment name: nothing of bf16's is reused
    assert fp32.outcome.trained == 4 and fp32.outcome.reused == 0
    b = fp32.trials().set_index(["arm", "sparsity", "seed"])["final_test_acc"]
    assert sparsearch.run(with_precision(SMALL, "bf16"), store=store, replace=True).outcome.reused == 4
    assert (a > 0.6).all() and (a - b).abs().max() < 0.1  # chance: 0.25


def test_lowered_casts_nested_tensors_differentiably_and_leaves_fp32_alone():
    w = torch.ones(2, 3, requires_grad=True)
    layers = [(w, torch.zeros(3))]
    assert lowered(layers, torch.float32) is layers
    [(low_w, low_b)] = lowered(layers, torch.bfloat16)
    assert low_w.dtype == low_b.dtype == torch.bfloat16
    (low_w.float() * 3).sum().backward()
    assert w.grad.dtype == torch.float32 and torch.equal(w.grad, torch.full((2, 3), 3.0))


def test_bf16_where_the_cpu_has_no_native_path_is_said_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(precision, "bf16_path", lambda: "none")
    with pytest.warns(SlowPrecisionWarning, match="slower than fp32"):
        sparsearch.run(with_precision(SMALL, "bf16"), store=tmp_path / "a.db")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SlowPrecisionWarning)
        sparsearch.run(SMALL, store=tmp_path / "b.db")  # fp32: no note


@pytest.mark.slow
def test_run_command_names_the_bf16_path(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[experiment]\nname = "p"\nseeds = 1\n[data]\nname = "synthetic"\nsamples = 300\n'
                      '[train]\nepochs = 1\n[search]\nsparsities = [0.5]\narms = ["dense"]\n'
                      '[engine]\nprecision = "bf16"\n')
    result = cli("run", str(config), "--quiet", "--store", str(tmp_path / "s.db"))
    assert result.returncode == 0
    assert f"precision bf16 (this CPU's bf16 path: {precision.bf16_path()})" in result.stderr
    config.write_text('[engine]\nprecision = "fp16"\n')
    result = cli("run", str(config), "--quiet", "--store", str(tmp_path / "s.db"))
    assert result.returncode == 2 and "engine.precision" in result.stderr and "'bf16'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_supernet_trains_and_searches_in_bf16_under_its_own_key(tmp_path):
    raw = {"experiment": {"name": "e", "seeds": 1, "kind": "supernet"}, "data": {"name": "synthetic", "samples": 300},
           "parent": {"hidden": [12, 8]}, "train": {"epochs": 2, "batch_size": 32},
           "supernet": {"epochs": 12, "sandwich": 1, "widths": [0.25, 0.5, 0.75, 1.0], "evaluations": 8, "search_population": 4,
                        "strategies": ["random"], "retrain": 0}}
    config = config_from_dict(with_precision(raw, "bf16"))
    data = load_dataset(config.data)
    space = ElasticSpace((12, 8), (0.25, 0.5, 0.75, 1.0))
    widths = parent_widths(data.n_features, (12, 8), data.n_classes)
    low, bf16 = train_supernet(MLP(widths), init_parent(widths, 0), space, data, config, seed=0)
    high, fp32 = train_supernet(MLP(widths), init_parent(widths, 0), space, data, config_from_dict(raw), seed=0)
    assert low[0][0].dtype == torch.float32 and not torch.equal(low[0][0], high[0][0])  # fp32 masters, bf16 math
    for end in ("largest_val_acc", "smallest_val_acc"):
        assert abs(bf16[end][-1] - fp32[end][-1]) < 0.1
    with Store(tmp_path / "s.db", write=True) as store:
        assert run_supernet(config, data, store) == SupernetRun(searched=1, reused=0)
        assert run_supernet(config_from_dict(raw), data, store) == SupernetRun(searched=1, reused=0)


def test_probes_that_train_or_evaluate_run_in_the_trainers_precision(synthetic):
    widths = parent_widths(synthetic.n_features, (24, 12), synthetic.n_classes)
    parent = init_parent(widths, 0)
    masks = [sample_mask((24, 12), 0.5, generator("m", k)) for k in range(4)]
    probe = torch.arange(64)
    for score in (init_loss, steps_probe):
        got = {p: probe_scores(Trainer(MLP(widths), synthetic, TrainConfig(), precision=p), parent, masks, probe,
                               score, order_seed=0, steps=3) for p in ("fp32", "bf16")}
        assert not torch.equal(got["fp32"], got["bf16"])
        torch.testing.assert_close(got["bf16"], got["fp32"], rtol=0.05, atol=0.05)
