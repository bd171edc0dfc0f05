"""`[engine] device`: resolution, the one-line refusal of a device this machine lacks (before the
store is touched), Ray's GPU request, and, where a GPU is present, runs on it matching the CPU's."""

import math

import pytest
import torch
from typer.testing import CliRunner

import sparsearch
from conftest import BASE, toml
from sparsearch.cli import app
from sparsearch.config import EngineConfig, config_from_dict
from sparsearch.engine.device import resolve_device
from sparsearch.errors import SparsearchError
from sparsearch.store import Store

MPS = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
needs_mps = pytest.mark.skipif(not MPS, reason="needs Apple's MPS backend (Apple silicon)")


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


def test_auto_is_the_cpu_without_a_gpu(no_gpu):
    assert EngineConfig().device == "auto"
    assert resolve_device("auto") == "cpu"
    assert resolve_device("cpu") == "cpu"


def test_auto_prefers_cuda_then_mps(monkeypatch, no_gpu):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # nothing runs on it here
    assert resolve_device("auto") == "cuda"
    assert resolve_device("cuda") == "cuda"


@pytest.mark.parametrize("device, says", [("cuda", "no CUDA GPU is available"), ("mps", "MPS backend is not available")])
def test_a_missing_device_is_one_line(no_gpu, device, says):
    with pytest.raises(SparsearchError, match=says) as error:
        resolve_device(device)
    assert "\n" not in str(error.value)


def test_an_unknown_device_is_refused_by_the_schema():
    with pytest.raises(SparsearchError, match="engine.device: allowed: 'auto', 'cpu', 'cuda' or 'mps', got 'tpu'"):
        config_from_dict({"engine": {"device": "tpu"}})


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_cuda_without_a_gpu_exits_2_in_one_line_and_creates_no_store(tmp_path):
    (tmp_path / "c.toml").write_text(toml(engine={"device": "cuda"}))
    store = tmp_path / "s.db"
    result = CliRunner().invoke(app, ["run", str(tmp_path / "c.toml"), "--store", str(store), "--quiet"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "no CUDA GPU" in lines[0], result.stderr
    assert not store.exists()
    with pytest.raises(SparsearchError, match="no CUDA GPU"):
        sparsearch.run(config_from_dict({**BASE, "engine": {"device": "cuda"}}), store=tmp_path / "t.db")
    assert not (tmp_path / "t.db").exists()


def test_ray_tasks_ask_for_a_gpu_only_on_cuda(monkeypatch, no_gpu):
    pytest.importorskip("ray")
    from sparsearch.engine.executors import open_executor

    assert open_executor(EngineConfig(executor="ray")).gpus == 0
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # no task is started
    assert open_executor(EngineConfig(executor="ray")).gpus == 1
    assert open_executor(EngineConfig(executor="ray", device="cpu")).gpus == 0


# A GPU run against the CPU's: the same trials (keys are device-free) within 1e-4.
WEIGHT = {**BASE, "experiment": {"name": "w", "seeds": 2},
          "search": {"space": "weight", "sparsities": [0.5, 0.8], "arms": ["dense", "random", "magnitude", "snip", "gmp"]}}
NODE = {**BASE, "experiment": {"name": "n", "seeds": 2}, "parent": {"hidden": [16, 8]},
        "search": {"sparsities": [0.5], "arms": ["dense", "random", "random_search"]},
        "arms": {"random_search": {"candidates": 4, "probe": "steps"}}}
SUPERNET = {"experiment": {"name": "e", "seeds": 1, "kind": "supernet"}, "data": {"name": "synthetic", "samples": 300},
            "parent": {"hidden": [16, 16]}, "train": {"epochs": 2, "batch_size": 32},
            "supernet": {"epochs": 3, "strategies": ["random"], "evaluations": 8, "search_population": 4,
                         "retrain": 2}}
CONV_SUPERNET = {**SUPERNET, "experiment": {"name": "c", "seeds": 1, "kind": "supernet"},
                 "parent": {"kind": "cnn1d", "channels": [8, 8, 8]},
                 "supernet": {**SUPERNET["supernet"], "widths": [0.25, 0.5, 1.0], "objectives": ["flops"]}}


def _on(raw: dict, device: str) -> dict:
    return {**raw, "engine": {"device": device}}


def _close(a, b, tol: float = 1e-4) -> bool:
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol
    return a == b


def _same_mask_study(device: str, tmp_path) -> None:
    for raw in (WEIGHT, NODE):
        rows = {}
        for where in ("cpu", device):
            trials = sparsearch.run(_on(raw, where), store=tmp_path / f"{where}.db").trials()
            rows[where] = trials.sort_values(["arm", "sparsity", "seed"]).reset_index(drop=True)
        cpu, gpu = rows["cpu"], rows[device]
        assert list(cpu["trial_key"]) == list(gpu["trial_key"])  # the device is not part of a trial's key
        for column in ("test_acc", "final_test_acc", "best_val_acc"):
            assert _close(list(cpu[column]), list(gpu[column])), column
        curves = {}
        for where in ("cpu", device):
            with Store(tmp_path / f"{where}.db", write=False) as db:
                curves[where] = db.curves(raw["experiment"]["name"])
        assert curves["cpu"].keys() == curves[device].keys()
        for key, curve in curves["cpu"].items():
            assert all(_close(curve[name], curves[device][key][name]) for name in curve), key


def _same_supernet(device: str, tmp_path) -> None:
    for raw in (SUPERNET, CONV_SUPERNET):
        name = raw["experiment"]["name"]
        rows = {where: sparsearch.run(_on(raw, where), store=tmp_path / f"{name}-{where}.db").evaluations()
                for where in ("cpu", device)}
        cpu, gpu = rows["cpu"], rows[device]
        assert list(cpu["config"]) == list(gpu["config"]), name
        assert _close(list(cpu["val_acc"]), list(gpu["val_acc"])), name


@needs_cuda
def test_a_cuda_run_matches_the_cpu(tmp_path):
    _same_mask_study("cuda", tmp_path)
    _same_supernet("cuda", tmp_path)


@needs_mps
def test_an_mps_run_matches_the_cpu(tmp_path):
    _same_mask_study("mps", tmp_path)
    _same_supernet("mps", tmp_path)


def test_the_data_moves_once_per_device(synthetic):
    from sparsearch.engine.device import dataset_on, on_cpu

    assert dataset_on(synthetic, "cpu") is synthetic
    there = dataset_on(synthetic, "meta")  # a device every build has; nothing is computed on it
    assert there is dataset_on(synthetic, "meta") and there.x_train.device.type == "meta"
    assert there.shape == synthetic.shape and there.n_classes == synthetic.n_classes
    assert on_cpu([(torch.ones(2), torch.zeros(1))])[0][0].device.type == "cpu"
