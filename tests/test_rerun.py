"""Reruns of a stored experiment (issue 29, items 10, 11 and 12): an unchanged config continues it,
settings that change no result are admitted, a changed one replaces its plan only when asked; an
interrupted run is listed and says how to resume; a finished super-network search reruns without
retraining its front, and `rm` takes its super-networks along."""

import pytest
from typer.testing import CliRunner

import sparsearch
from conftest import BASE, toml
from sparsearch.cli import app
from sparsearch.engine.trainer import Trainer
from sparsearch.errors import SparsearchError
from sparsearch.mask.study import Planning
from sparsearch.store import Store
from sparsearch.supernet import records

SUPERNET = {
    "experiment": {"name": "elastic", "seeds": 1, "kind": "supernet"},
    "data": {"name": "synthetic", "samples": 200},
    "parent": {"hidden": [8, 8]},
    "train": {"epochs": 2, "batch_size": 32},
    "supernet": {"epochs": 2, "widths": [0.5, 1.0], "strategies": ["random", "nsga2"], "evaluations": 4,
                 "search_population": 2, "retrain": 2},
}


def _with(raw: dict, **changes) -> dict:
    return {**raw, **{section: {**raw.get(section, {}), **table} for section, table in changes.items()}}


def test_a_rerun_with_only_result_free_settings_changed_continues_the_experiment(tmp_path):
    store = tmp_path / "s.db"
    first = sparsearch.run(BASE, store=store)
    again = sparsearch.run(_with(BASE, engine={"threads": 1, "max_population": 3, "max_memory_gb": 2.0}), store=store)
    assert again.outcome.reused == len(first.outcome.rows) and again.outcome.trained == 0


def test_a_changed_config_replaces_the_plan_only_with_replace(tmp_path):
    store = tmp_path / "s.db"
    sparsearch.run(BASE, store=store)
    changed = _with(BASE, search={"sparsities": [0.75]})
    with pytest.raises(SparsearchError, match=r"search.sparsities \[0.5\] -> \[0.75\]"):
        sparsearch.run(changed, store=store)
    assert set(sparsearch.Study(store, "tiny").trials()["sparsity"]) == {0.0, 0.5}
    replaced = sparsearch.run(changed, store=store, replace=True)
    assert set(replaced.trials()["sparsity"]) == {0.0, 0.75}
    assert replaced.outcome.reused == 2  # the dense trials answer the new plan too


def test_the_cli_refuses_a_changed_config_and_accepts_it_with_replace(tmp_path):
    (tmp_path / "a.toml").write_text(toml())
    (tmp_path / "b.toml").write_text(toml(train={"epochs": 3}))
    store = str(tmp_path / "s.db")
    runner = CliRunner()
    assert runner.invoke(app, ["run", str(tmp_path / "a.toml"), "--store", store, "--quiet"]).exit_code == 0
    refused = runner.invoke(app, ["run", str(tmp_path / "b.toml"), "--store", store, "--quiet"])
    assert refused.exit_code == 2 and "train.epochs 2 -> 3" in refused.output and "--replace" in refused.output
    replaced = runner.invoke(app, ["run", str(tmp_path / "b.toml"), "--store", store, "--quiet", "--replace"])
    assert replaced.exit_code == 0 and "4 trained now" in replaced.output


def _interrupt_planning(monkeypatch):
    def interrupted(self, progress):
        raise KeyboardInterrupt

    monkeypatch.setattr(Planning, "assignments", interrupted)


def test_an_interrupted_run_is_listed_and_says_how_to_resume(tmp_path, monkeypatch):
    (tmp_path / "c.toml").write_text(toml())
    store = str(tmp_path / "s.db")
    _interrupt_planning(monkeypatch)
    result = CliRunner().invoke(app, ["run", str(tmp_path / "c.toml"), "--store", store, "--quiet"])
    assert result.exit_code == 130
    assert result.output.strip().splitlines()[-1].startswith("interrupted: rerun the same command to resume")
    listed = CliRunner().invoke(app, ["ls", "--store", store])
    assert "tiny" in listed.output and "not planned yet" in listed.output
    monkeypatch.undo()
    resumed = CliRunner().invoke(app, ["run", str(tmp_path / "c.toml"), "--store", store, "--quiet"])
    assert resumed.exit_code == 0 and "4 trained now" in resumed.output
    with Store.open(store) as db:
        assert db.experiments()[0]["status"] == "complete"


def test_a_finished_supernet_experiment_reruns_without_retraining_its_front(tmp_path, monkeypatch):
    store = tmp_path / "s.db"
    sparsearch.run(SUPERNET, store=store)
    with Store.open(store) as db:
        retrained = records.retrained(db, "elastic")
    assert len(retrained) >= 1

    def no_training(*args, **kwargs):
        raise AssertionError("a finished front was retrained")

    monkeypatch.setattr(Trainer, "train", no_training)
    assert sparsearch.run(SUPERNET, store=store).outcome.reused == 2
    with Store.open(store) as db:
        assert records.retrained(db, "elastic") == retrained


def _supernet_keys(store, known: frozenset = frozenset()) -> set[str]:
    """The stored super-networks: their curves' shared records, each with its weights artifact
    (and no artifact left of a `known` super-network whose curves went)."""
    with Store.open(store) as db:
        curves = {key for (key,) in db.db.execute("SELECT key FROM shared_records WHERE type = 'supernet'")}
        weights = {key for (key,) in db.db.execute("SELECT key FROM artifacts")} & (curves | known)
    assert weights == curves
    return curves


def test_rm_of_a_supernet_experiment_removes_the_supernets_only_it_used(tmp_path):
    store = tmp_path / "s.db"
    sparsearch.run(SUPERNET, store=store)
    sparsearch.run(_with(SUPERNET, experiment={"name": "twin"}), store=store)  # shares the super-network
    sparsearch.run(_with(SUPERNET, experiment={"name": "other"}, data={"seed": 1}), store=store)
    keys = _supernet_keys(store)
    assert len(keys) == 2
    runner = CliRunner()
    assert runner.invoke(app, ["rm", "other", "--store", str(store), "--yes"]).exit_code == 0
    shared = _supernet_keys(store, frozenset(keys))
    assert len(shared) == 1 and shared < keys
    assert runner.invoke(app, ["rm", "elastic", "--store", str(store), "--yes"]).exit_code == 0
    assert _supernet_keys(store, frozenset(keys)) == shared  # still the twin's
    assert runner.invoke(app, ["rm", "twin", "--store", str(store), "--yes"]).exit_code == 0
    assert _supernet_keys(store, frozenset(keys)) == set()
