"""Exporting a found network (`Study.export_model`, `sparsearch export-model`): ONNX run in
onnxruntime, `torch.export` reloaded and the safetensors file rebuilt all give the module's
logits, at batch 1 and 7; weight masks are folded in (exact zeros), node masks compacted; a
refusal is one line, exit code 2, and leaves no file behind."""

import json
import re
import sys
from pathlib import Path
from typing import NamedTuple

import pytest
import torch
from safetensors import safe_open
from typer.testing import CliRunner

import sparsearch
from sparsearch.cli import app
from sparsearch.extras import install_hint
from sparsearch.model_export import EXTRA_FILE, FORMAT, OPSET, folded, load_exported, onnx_session
from sparsearch.nets import PARENTS, from_spec

from conftest import sql
from custom_cnn import small_cnn
from refusal import refused
from test_resnet20 import SMALL as RESNET_CHANNELS, blob_arrays

SRC = Path(__file__).resolve().parents[1] / "src"
NO_ONNX = f"the onnx extra is not installed ({install_hint('onnx')}; make test installs it)"
TOLERANCE = 1e-5
"""Relative to the largest logit: onnxruntime's kernels sum in another order than PyTorch's, so the
logits agree to a few float32 ulps of their scale, on every CPU model (see assert_close_across_kernels)."""


def blobs(channels: int):
    x, y = blob_arrays(160)
    return sparsearch.Dataset.from_arrays(x[:, :channels], y, name=f"blobs{channels}")


EXPERIMENTS = {  # name: (parent, space, data); one sparse arm at 0.5, one seed, one epoch
    "mlp-node": ({"hidden": [16, 8]}, "node", None),
    "mlp-weight": ({"hidden": [16, 8]}, "weight", None),
    "lenet5-node": ({"kind": "lenet5"}, "node", 1),
    "lenet5-weight": ({"kind": "lenet5"}, "weight", 1),
    "resnet20-node": ({"kind": "resnet20", "channels": RESNET_CHANNELS}, "node", 3),
    "resnet20-weight": ({"kind": "resnet20", "channels": RESNET_CHANNELS}, "weight", 3),
    "module-weight": ({"kind": "export_cnn"}, "weight", 1),
    "vit-node": ({"kind": "vit", "dim": 16, "depth": 1}, "node", 1),
    "vit-weight": ({"kind": "vit", "dim": 16, "depth": 1, "pool": "mean"}, "weight", 1),
}


class Trial(NamedTuple):
    study: sparsearch.Study
    key: str
    features: int  # flat input features


@pytest.fixture(scope="module")
def trials(tmp_path_factory):
    """Per experiment, its random arm's trial (weights stored)."""
    parents = dict(PARENTS)
    sparsearch.register_parent("export_cnn", small_cnn)
    folder = tmp_path_factory.mktemp("export")
    out = {}
    for name, (parent, space, channels) in EXPERIMENTS.items():
        config = {"experiment": {"name": name, "seeds": 1}, "data": {"name": "synthetic", "samples": 160},
                  "parent": parent, "train": {"epochs": 1, "batch_size": 32}, "engine": {"threads": 1},
                  "search": {"space": space, "sparsities": [0.5], "arms": ["random"]},
                  "store": {"save_weights": True}}
        data = None if channels is None else blobs(channels)
        study = sparsearch.run(config, store=folder / f"{name}.db", data=data)
        key = study.trials().trial_key.iloc[0]
        with sparsearch.Store.open(folder / f"{name}.db") as db:
            out[name] = Trial(study, key, from_spec(db.trial(key)["spec"]["parent"]).widths[0])
    yield out
    PARENTS.clear(), PARENTS.update(parents)


def inputs(features: int, batch: int) -> torch.Tensor:
    return torch.randn(batch, features, generator=torch.Generator().manual_seed(batch))


def assert_logits(got, expected):
    got = torch.as_tensor(got)
    scale = float(expected.abs().max())
    torch.testing.assert_close(got, expected, rtol=0, atol=TOLERANCE * scale)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_onnxruntime_gives_the_modules_logits_at_any_batch(name, trials, tmp_path):
    onnx = pytest.importorskip("onnx", reason=NO_ONNX)
    ort = pytest.importorskip("onnxruntime", reason=NO_ONNX)
    study, key, features = trials[name]
    path = study.export_model(key, tmp_path / "net.onnx")
    assert path == tmp_path / "net.onnx" and sorted(p.name for p in tmp_path.iterdir()) == ["net.onnx"]
    model = onnx.load(str(path))
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= OPSET >= 17
    (given,), (returned,) = model.graph.input, model.graph.output
    assert given.name == "features" and returned.name == "logits"
    assert given.type.tensor_type.shape.dim[0].dim_param  # a named, dynamic batch dimension
    metadata = {p.key: json.loads(p.value) for p in model.metadata_props}
    assert metadata["trial_key"] == key and metadata["format"] == FORMAT
    net = study.network(key)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 7):
        x = inputs(features, batch)
        with torch.no_grad():
            expected = net(x)
        (got,) = session.run(None, {"features": x.numpy()})
        assert got.shape == (batch, expected.shape[1])
        assert_logits(got, expected)


@pytest.mark.parametrize("name", ["mlp-weight", "lenet5-weight", "resnet20-weight", "vit-weight"])
def test_weight_masks_are_folded_in_as_exact_zeros(name, trials, tmp_path):
    study, key, features = trials[name]
    net = study.network(key)
    masked = {layer_name: layer for layer_name, layer in net.named_modules() if hasattr(layer, "weight_mask")}
    assert masked and all(not layer.weight_mask.all() for layer in masked.values())
    path = study.export_model(key, tmp_path / "net.safetensors")
    with safe_open(str(path), framework="pt") as file:
        for layer_name, layer in masked.items():
            weight = file.get_tensor(f"{layer_name}.weight")
            keep = layer.weight_mask.bool()
            assert (weight[~keep] == 0).all() and torch.equal(weight[keep], layer.weight_orig.detach()[keep])
            assert f"{layer_name}.weight_mask" not in file.keys() and f"{layer_name}.weight_orig" not in file.keys()
    plain = folded(net)
    assert not any(hasattr(m, "weight_mask") for m in plain.modules())
    assert all(hasattr(m, "weight_mask") for m in masked.values())  # the study's module is left as it was


@pytest.mark.parametrize("name", ["mlp-node", "lenet5-node", "resnet20-node", "module-weight", "vit-node"])
def test_the_safetensors_file_rebuilds_the_network_and_says_what_it_is(name, trials, tmp_path):
    study, key, features = trials[name]
    net = study.network(key)
    path = study.export_model(key, tmp_path / "net.safetensors")
    rebuilt = load_exported(path)
    assert not rebuilt.training
    expected_state = folded(net).state_dict()
    assert sorted(rebuilt.state_dict()) == sorted(expected_state)
    assert all(torch.equal(rebuilt.state_dict()[k], v) for k, v in expected_state.items())
    for batch in (1, 7):
        x = inputs(features, batch)
        with torch.no_grad():
            assert torch.equal(rebuilt(x), net(x))
    with safe_open(str(path), framework="pt") as file:
        metadata = {k: json.loads(v) for k, v in file.metadata().items()}
    trial = study.trials().set_index("trial_key").loc[key]
    with sparsearch.Store.open(study._store) as db:
        record = db.trial(key)
    assert metadata["trial_key"] == key and metadata["parent"] == record["spec"]["parent"]
    assert metadata["arm"] == trial.arm and metadata["space"] == name.split("-")[1]
    widths = metadata["widths"]
    if metadata["space"] == "node":  # compacted: the kept nodes of each group
        assert widths[1:-1] == [len(keep) for keep in record["mask"]]
    assert widths[0] == features and widths[-1] == 4
    assert all(list(expected_state[k].shape) == shape for k, shape in metadata["shapes"].items())


@pytest.mark.parametrize("name", ["mlp-weight", "resnet20-node", "vit-node"])
def test_the_pt2_file_reloads_with_torch_export_and_gives_the_logits(name, trials, tmp_path):
    study, key, features = trials[name]
    net = study.network(key)
    path = study.export_model(key, tmp_path / "net.pt2")
    extra = {EXTRA_FILE: ""}
    program = torch.export.load(str(path), extra_files=extra)
    assert json.loads(extra[EXTRA_FILE])["trial_key"] == key
    for batch in (1, 7):
        x = inputs(features, batch)
        with torch.no_grad():
            assert_logits(program.module()(x), net(x))


def test_the_cli_writes_the_file_and_prints_its_path(trials, tmp_path):
    pytest.importorskip("onnx", reason=NO_ONNX)
    study, key, _ = trials["mlp-node"]
    out = tmp_path / "found.onnx"
    result = CliRunner().invoke(app, ["export-model", key, "--store", str(study._store), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{out}\n" and out.is_file()


def test_onnx_session_runs_a_module_for_timing(trials):
    pytest.importorskip("onnxruntime", reason=NO_ONNX)
    study, key, features = trials["lenet5-weight"]
    net = study.network(key)
    session = onnx_session(net, features, threads=1)
    x = inputs(features, 3)
    with torch.no_grad():
        assert_logits(session.run(None, {"features": x.numpy()})[0], net(x))


def cli_refusal(args: list[str], tmp_path: Path) -> str:
    """Run `sparsearch ARGS` in-process; assert exit 2, one `error:` line, nothing else, no file left."""
    before = set(tmp_path.iterdir())
    result = CliRunner().invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and result.stdout == "", result.output
    assert set(tmp_path.iterdir()) == before
    return lines[0]


def test_refusals_name_the_value_and_what_to_do(trials, tmp_path):
    study, key, _ = trials["mlp-node"]
    store = str(study._store)
    line = cli_refusal(["export-model", key, "--store", store, "--out", str(tmp_path / "net.txt")], tmp_path)
    assert "'.txt'" in line and ".onnx, .safetensors, .pt2" in line
    line = cli_refusal(["export-model", key, "--store", store, "--out", str(tmp_path / "no" / "net.pt2")], tmp_path)
    assert f"folder '{tmp_path / 'no'}' does not exist" in line
    line = cli_refusal(["export-model", "nope", "--store", store, "--out", str(tmp_path / "net.pt2")], tmp_path)
    assert "no trial 'nope'" in line
    line = cli_refusal(["export-model", key, "--store", str(tmp_path / "none.db"), "--out", str(tmp_path / "n.pt2")],
                       tmp_path)
    assert "no store at" in line
    (tmp_path / "folder.pt2").mkdir()
    line = cli_refusal(["export-model", key, "--store", store, "--out", str(tmp_path / "folder.pt2")], tmp_path)
    assert "is a folder" in line


def test_a_trial_whose_weights_cannot_be_rebuilt_exactly_is_refused_by_the_real_command(finished_store, tmp_path):
    key = sparsearch.Study(finished_store, "tiny").trials().trial_key.iloc[0]

    def unstored_with_other_curves(store):  # as if trained by another torch: its retraining cannot match
        sql(store, "DELETE FROM weights")
        sql(store, f"UPDATE trials SET curves = json_set(curves, '$.val_acc[0]', 0.5) WHERE key = '{key}'")

    line = refused(["export-model", key, "--store", "{store}", "--out", str(tmp_path / "net.safetensors")],
                   tmp_path, finished_store, prepare=unstored_with_other_curves, env={"PYTHONPATH": str(SRC)})
    assert line.startswith(f"error: trial {key!r} retrained to other curves than stored")
    assert not (tmp_path / "net.safetensors").exists()


def test_without_onnx_the_refusal_names_the_extra(trials, tmp_path, monkeypatch):
    study, key, _ = trials["mlp-node"]
    monkeypatch.setitem(sys.modules, "onnx", None)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(sparsearch.SparsearchError, match=f"^exporting ONNX needs onnx, which is not installed: "
                                                         f"{re.escape(install_hint('onnx'))}$"):
        study.export_model(key, tmp_path / "net.onnx")
    with pytest.raises(sparsearch.SparsearchError, match=r"onnxruntime, which is not installed"):
        onnx_session(study.network(key), 64)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_no_partial_file_and_keeps_the_old_one(trials, tmp_path, monkeypatch):
    import sparsearch.model_export as model_export

    study, key, _ = trials["mlp-node"]
    out = tmp_path / "net.safetensors"
    out.write_bytes(b"old")

    def full_disk(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(model_export.os, "replace", full_disk)
    with pytest.raises(sparsearch.SparsearchError, match=r"cannot write '.*net.safetensors': No space left on device"):
        study.export_model(key, out)
    assert list(tmp_path.iterdir()) == [out] and out.read_bytes() == b"old"


def test_load_exported_refuses_what_export_model_did_not_write(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(sparsearch.SparsearchError, match="is not a network written by export_model"):
        load_exported(tmp_path / "other.safetensors")
    with pytest.raises(sparsearch.SparsearchError, match=r"reads \.safetensors files, got '.*net\.onnx'"):
        load_exported(tmp_path / "net.onnx")
    with pytest.raises(sparsearch.SparsearchError, match=r"cannot read '.*missing\.safetensors'"):
        load_exported(tmp_path / "missing.safetensors")
