"""The network behind the number: `study.network(key)` returns the weights at the trial's best
validation epoch, whose test accuracy is its `test_acc` (`which="final"`: `final_test_acc`); the
default `[store] save_weights = "auto"` keeps them for networks of at most 1 MiB; a trial stored
without them is retrained, bitwise as stored, to rebuild them (refused in one line where the
curves come out otherwise); an older store's final-only weights still serve `final`; `Dataset`
exposes its standardization (`mean`, `std`, `transform`) and `sparsearch.load_dataset` is public."""

import hashlib
import shutil
import warnings

import numpy as np
import pytest
import torch
from safetensors.torch import save as save_safetensors
from typer.testing import CliRunner

import sparsearch
from sparsearch.cli import app
from sparsearch.config import AUTO_WEIGHTS_BYTES, Config, DataConfig
from sparsearch.data import builtin
from sparsearch.data.splits import split
from sparsearch.mask.rebuild import REBUILDING
from sparsearch.model_export import folded, load_exported
from sparsearch.store import Store, TrialWeights
from sparsearch.study import RebuildWarning

from conftest import Recording, sql

HOOKED = {"experiment": {"name": "hooked", "seeds": 2}, "parent": {"hidden": [32, 16]}, "train": {"epochs": 4},
          "search": {"space": "weight", "sparsities": [0.98], "arms": ["dense", "gmp", "lottery"]},
          "arms": {"gmp": {"start": 0.0, "end": 1.0, "events": 4}, "lottery": {"prune_rate": 0.9}}}
"""Digits, weight space: gradual pruning to the last step (its masks change after its best epoch)
and a lottery ticket (its plan needs trained rounds, which the store keeps as artifacts)."""


def accuracy(net, x, y) -> float:
    with torch.no_grad():
        return (net(x).argmax(1) == y).float().mean().item()


def assert_networks_reproduce(study, data):
    """Every trial's best network scores its test_acc and its final network its final_test_acc,
    on the test set, read from the store without retraining."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RebuildWarning)
        for row in study.trials().itertuples():
            assert accuracy(study.network(row.trial_key), data.x_test, data.y_test) == pytest.approx(
                row.test_acc, abs=1e-6), row
            assert accuracy(study.network(row.trial_key, "final"), data.x_test, data.y_test) == pytest.approx(
                row.final_test_acc, abs=1e-6), row


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def states_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """The built-in default study (`make run`), two seeds of eight epochs, save_weights untouched."""
    config = Config().model_dump()
    config["experiment"].update(seeds=2)
    config["train"].update(epochs=8)
    store = tmp_path_factory.mktemp("default") / "s.db"
    return sparsearch.run(config, store=store), store


@pytest.fixture(scope="module")
def hooked(tmp_path_factory):
    store = tmp_path_factory.mktemp("hooked") / "s.db"
    return sparsearch.run(HOOKED, store=store), store


def test_the_default_run_keeps_weights_and_its_networks_reproduce_test_acc(default_run):
    study, store = default_run
    assert Config().store.save_weights == "auto" and study.config.store.save_weights == "auto"
    trials = study.trials()
    with Store.open(store) as db:
        assert db.keys_with_weights(list(trials.trial_key)) == set(trials.trial_key)
    assert (trials.test_acc != trials.final_test_acc).any()  # best and final differ somewhere: the test can fail
    assert_networks_reproduce(study, sparsearch.load_dataset("digits"))


def test_best_weights_are_stored_apart_only_where_the_best_epoch_is_not_the_last(default_run):
    study, store = default_run
    with Store.open(store) as db:
        for row in study.trials().itertuples():
            weights = db.weights(row.trial_key)
            assert (weights.best is None) == (row.best_epoch == 8) and weights.best_masks is None


def test_gradual_pruning_keeps_the_masks_of_its_best_epoch(hooked):
    study, store = hooked
    trials = study.trials()
    gmp = trials[trials.arm == "gmp"]
    assert (gmp.best_epoch < 4).all()
    with Store.open(store) as db:
        for key in gmp.trial_key:
            stored = db.weights(key)
            best, final = study.network(key), study.network(key, "final")
            masked = [name for name, _ in best.named_buffers() if name.endswith("weight_mask")]
            kept = {name: int(buffer.sum()) for name, buffer in best.named_buffers() if name in masked}
            final_kept = {name: int(buffer.sum()) for name, buffer in final.named_buffers() if name in masked}
            assert stored.best_masks is not None and sum(kept.values()) > sum(final_kept.values())
    assert_networks_reproduce(study, sparsearch.load_dataset("digits"))


def test_a_batchnorm_parent_keeps_the_statistics_of_its_best_epoch(tmp_path):
    from test_resnet20 import SMALL, blob_arrays

    data = sparsearch.Dataset.from_arrays(*blob_arrays(200), name="blobs3")
    config = {"experiment": {"name": "bn", "seeds": 2}, "parent": {"kind": "resnet20", "channels": SMALL},
              "train": {"epochs": 4, "batch_size": 32, "lr": 0.2}, "engine": {"threads": 1},
              "search": {"space": "node", "sparsities": [0.5], "arms": ["dense", "random"]}}
    study = sparsearch.run(config, store=tmp_path / "s.db", data=data)
    trials = study.trials()
    assert (trials.best_epoch < 4).any()
    assert_networks_reproduce(study, data)


def test_a_trial_without_weights_is_retrained_bitwise_and_the_store_left_as_it_was(hooked, tmp_path):
    study, store = hooked
    keys = list(study.trials().trial_key)
    stored = {key: (study.network(key), study.network(key, "final")) for key in keys}
    copy = tmp_path / "s.db"
    shutil.copy(store, copy)
    sql(copy, "DELETE FROM weights")
    before = digest(copy)
    again = sparsearch.Study(copy, "hooked")
    for key in keys:
        progress = Recording()
        best = again.network(key, progress=progress)
        assert progress.phases[-1] == [REBUILDING, 4, 4]
        assert states_equal(best, stored[key][0]) and states_equal(again.network(key, "final", progress=progress),
                                                                  stored[key][1])
    assert digest(copy) == before
    with pytest.warns(RebuildWarning, match="stored with no weights; retraining it, bitwise as stored"):
        sparsearch.load_network(copy, keys[0])


def test_weights_over_the_auto_cap_are_not_kept_nor_retrained_for_and_true_retrains_them(tmp_path):
    config = {"experiment": {"name": "wide", "seeds": 1}, "parent": {"hidden": [2048, 128]}, "train": {"epochs": 1},
              "search": {"sparsities": [0.9], "arms": ["dense", "random"]}}
    store = tmp_path / "s.db"
    study = sparsearch.run(config, store=store)
    trials = study.trials().set_index("arm")
    with Store.open(store) as db:
        assert db.keys_with_weights(list(trials.trial_key)) == {trials.trial_key["random"]}
        size = sum(t.numel() * t.element_size() for t in db.weights(trials.trial_key["random"]).final.values())
    assert size <= AUTO_WEIGHTS_BYTES < 4 * (64 * 2048 + 2048 + 2048 * 128 + 128 + 128 * 10 + 10)
    assert sparsearch.run(config, store=store).outcome.trained == 0
    with pytest.warns(RebuildWarning):
        net = study.network(trials.trial_key["dense"])
    data = sparsearch.load_dataset("digits")
    assert accuracy(net, data.x_test, data.y_test) == pytest.approx(trials.test_acc["dense"], abs=1e-6)
    kept = sparsearch.run({**config, "store": {"save_weights": True}}, store=store).outcome
    assert kept.trained == 1 and kept.reused == 1
    with Store.open(store) as db:
        assert db.keys_with_weights(list(trials.trial_key)) == set(trials.trial_key)


def test_an_older_stores_final_weights_serve_final_and_best_is_rebuilt(default_run, tmp_path):
    study, store = default_run
    trials = study.trials()
    copy = tmp_path / "s.db"
    shutil.copy(store, copy)
    with Store(copy, write=True) as db:  # as sparsearch 0.2 wrote them: the final state dict alone
        for key in trials.trial_key:
            db.db.execute("UPDATE weights SET format = 'safetensors', data = ? WHERE trial_key = ?",
                          (save_safetensors(db.weights(key).final), key))
    older = sparsearch.Study(copy, study.name)
    data = sparsearch.load_dataset("digits")
    differs = trials[trials.test_acc != trials.final_test_acc].iloc[0]
    same = trials[trials.best_epoch == 8].iloc[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RebuildWarning)
        assert accuracy(older.network(differs.trial_key, "final"), data.x_test, data.y_test) == pytest.approx(
            differs.final_test_acc, abs=1e-6)
        assert accuracy(older.network(same.trial_key), data.x_test, data.y_test) == pytest.approx(
            same.test_acc, abs=1e-6)
    with pytest.warns(RebuildWarning, match="stored with its final weights alone"):
        best = older.network(differs.trial_key)
    assert states_equal(best, study.network(differs.trial_key))


def test_a_rebuild_that_cannot_be_exact_is_refused_in_one_line(hooked, tmp_path):
    study, store = hooked
    key = study.trials().trial_key.iloc[0]
    copy = tmp_path / "s.db"
    shutil.copy(store, copy)
    sql(copy, "DELETE FROM weights")
    sql(copy, f"UPDATE trials SET curves = json_set(curves, '$.val_acc[0]', 0.5) WHERE key = '{key}'")
    before = digest(copy)
    with pytest.raises(sparsearch.SparsearchError, match=r"^trial '\w+' retrained to other curves than stored "
                                                         r"\(another torch version, CPU or device than cpu"):
        sparsearch.load_network(copy, key, progress=Recording())
    other = sparsearch.Dataset.from_arrays(np.eye(8, dtype=np.float32), np.arange(8) % 2, name="digits")
    with pytest.raises(sparsearch.SparsearchError, match=r"^data: 'digits' holds other arrays than trial"):
        sparsearch.load_network(copy, key, data=other, progress=Recording())
    with pytest.raises(sparsearch.SparsearchError, match=r"^data must be a sparsearch.Dataset .*, got ndarray$"):
        sparsearch.load_network(copy, key, data=np.eye(8), progress=Recording())
    with pytest.raises(sparsearch.SparsearchError, match=r"^which: .* got 'middle'$"):
        study.network(key, "middle")
    assert digest(copy) == before
    sql(copy, "DELETE FROM plan")
    with pytest.raises(sparsearch.SparsearchError, match="no experiment in .* plans it any more"):
        sparsearch.load_network(copy, key, progress=Recording())


def test_user_data_rebuilds_when_passed_and_is_asked_for_otherwise(tmp_path):
    from test_api import arrays

    data = sparsearch.Dataset.from_arrays(*arrays(0), name="mine")
    config = {"experiment": {"name": "mine", "seeds": 1}, "parent": {"hidden": [16]}, "train": {"epochs": 3},
              "search": {"sparsities": [0.5], "arms": ["random"]}, "store": {"save_weights": False}}
    study = sparsearch.run(config, store=tmp_path / "s.db", data=data)
    row = study.trials().iloc[0]
    with pytest.raises(sparsearch.SparsearchError, match=r"needs its data and 'mine' does not load .* pass data="):
        study.network(row.trial_key, progress=Recording())
    net = study.network(row.trial_key, data=data, progress=Recording())
    assert accuracy(net, data.x_test, data.y_test) == pytest.approx(row.test_acc, abs=1e-6)


def test_export_model_rebuilds_and_writes_the_network_asked_for(default_run, tmp_path):
    study, store = default_run
    key = study.trials().query("test_acc != final_test_acc").trial_key.iloc[0]
    copy = tmp_path / "s.db"
    shutil.copy(store, copy)
    sql(copy, "DELETE FROM weights")
    for which in ("best", "final"):
        out = tmp_path / f"{which}.safetensors"
        result = CliRunner().invoke(app, ["export-model", key, "--store", str(copy), "--out", str(out),
                                          "--which", which])
        assert result.exit_code == 0 and result.stdout == f"{out}\n", result.output
        expected = folded(study.network(key, which)).state_dict()
        got = load_exported(out).state_dict()
        assert got.keys() == expected.keys() and all(torch.equal(got[k], expected[k]) for k in got)
    result = CliRunner().invoke(app, ["export-model", key, "--store", str(copy), "--out", str(tmp_path / "n.pt2"),
                                      "--which", "last"])
    assert result.exit_code == 2 and "which: " in result.stderr and "got 'last'" in result.stderr


def test_transform_is_the_standardization_the_networks_read(default_run):
    study, _ = default_run
    cfg = DataConfig(name="digits")
    data = sparsearch.load_dataset("digits")
    (raw_train, _), _, (raw_test, _) = split(builtin.digits(cfg), cfg)
    assert torch.equal(data.transform(raw_test), data.x_test)
    assert torch.equal(data.transform(torch.as_tensor(raw_test[0])), data.x_test[:1])  # one example, flat
    assert torch.equal(data.transform(raw_test.reshape(-1, 1, 8, 8)), data.x_test)  # images
    train = raw_train.astype(np.float64)
    varying = train.max(0) > train.min(0)
    np.testing.assert_allclose(data.mean.numpy(), train.mean(0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(data.std.numpy()[varying], train.std(0)[varying], rtol=1e-6)
    assert (data.std.numpy()[~varying] == 1).all()
    row = study.trials().iloc[0]  # raw pixels in, the stored accuracy out
    assert accuracy(study.network(row.trial_key), data.transform(raw_test), data.y_test) == pytest.approx(
        row.test_acc, abs=1e-6)
    with pytest.raises(sparsearch.SparsearchError, match=r"^digits: transform reads numeric examples \[N, \.\.\.\] "
                                                         r"of 64 features each, got shape \(3, 5\)"):
        data.transform(np.zeros((3, 5)))


def test_weights_with_best_and_masks_round_trip_through_the_store(tmp_path):
    from sparsearch.store import PlanLink

    from test_store import trial

    weights = TrialWeights({"0.weight": torch.randn(3, 2)}, {"0.weight": torch.randn(3, 2)},
                           [torch.tensor([[True, False], [False, True], [True, True]])])
    with Store(tmp_path / "s.db", write=True) as db:
        db.begin_experiment("e", "", planned=1)
        db.record("e", [trial("k")], [PlanLink("random", 0.5, 0, "k")], {"k": weights})
        loaded = db.weights("k")
        assert db.db.execute("SELECT format FROM weights").fetchone()[0] == "safetensors+best"
    for got, want in ((loaded.final, weights.final), (loaded.best, weights.best)):
        assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)
    assert len(loaded.best_masks) == 1 and torch.equal(loaded.best_masks[0], weights.best_masks[0])


def test_save_weights_takes_true_false_or_auto_and_changing_it_changes_no_key(default_run, tmp_path):
    from sparsearch.config import config_from_dict

    study, store = default_run
    for value in ("yes", 1, None):
        with pytest.raises(sparsearch.SparsearchError, match=r'^store.save_weights: must be true, false or "auto"'):
            config_from_dict({"store": {"save_weights": value}})
    shutil.copy(store, tmp_path / "s.db")
    config = {**study.config.model_dump(exclude_none=True), "store": {"save_weights": False}}
    again = sparsearch.run(config, store=tmp_path / "s.db")
    assert again.outcome.trained == 0 and list(again.trials().trial_key) == list(study.trials().trial_key)
