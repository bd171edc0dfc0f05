"""Experiment kinds as plugins: a toy kind registered from outside the package runs, lists,
exports, compares and reports through the same API, Study and CLI as the built-in kinds."""

import csv
import io
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field
from typer.testing import CliRunner

import sparsearch
from sparsearch.analysis.export import EXPORT_COLUMNS, export_rows
from sparsearch.cli import app
from sparsearch.kinds import KINDS, experiment_kind, settings
from sparsearch.store import PlanLink, TrialRecord


class CoinFlips:
    """A toy kind: one "trial" per seed; seed 0's test accuracy is the share of test labels in
    class 0, seed s's is `bias` + s / 100 (its own setting, `[kinds.coin] bias`)."""

    name = "coin"
    tables = ("trials",)

    class Settings(BaseModel):
        model_config = ConfigDict(extra="forbid")
        bias: float = Field(0.5, ge=0, le=1)

    def validate(self, config):
        if config.experiment.seeds > 5:
            raise sparsearch.SparsearchError(f"experiment.seeds: the coin kind takes at most 5, got "
                                             f"{config.experiment.seeds}")

    def check_data(self, config, data):
        pass

    def run(self, config, data, store, progress, executor):
        name = config.experiment.name
        store.begin_experiment(name, sparsearch.config.to_toml(config), config.experiment.seeds)
        trials, links = [], []
        for seed in range(config.experiment.seeds):
            bias = settings(config).bias
            share = float((data.y_test == 0).float().mean()) if seed == 0 else bias + seed / 100
            key = f"coin-{seed}"
            trials.append(TrialRecord(key, data.name, [], 0.0, 0.0, 0, 0, share, share, share, 1, 1, 0.0, "ok",
                                      {"val_acc": [share]}, {"seed": seed}))
            links.append(PlanLink("coin", 0.0, seed, key))
        store.record(name, trials, links)
        return len(trials)

    def export(self, store, experiment, table):
        return list(EXPORT_COLUMNS), export_rows(store, experiment)

    def summary(self, store, experiment, config):
        return [row["test_acc"] for row in export_rows(store, experiment)]

    def compare(self, store, experiment, config, metric):
        return []

    def report(self, store, experiment, config, out_dir: Path) -> Path:
        out_dir.mkdir(parents=True, exist_ok=True)
        index = out_dir / "index.html"
        index.write_text(f"<p>{len(self.summary(store, experiment, config))} flips</p>")
        return index

    def show(self, store, experiment, config, console, verdicts=False):
        console.print(f"{experiment}: {len(self.summary(store, experiment, config))} flips")

    def done_line(self, outcome, store, seconds):
        return f"{outcome} flips in {store}"

    def settings_in_full(self, config):
        return config


@pytest.fixture
def coin(monkeypatch):
    experiment_kind("mask")  # the built-ins first, so the toy kind joins them
    monkeypatch.setitem(KINDS, "coin", None)
    sparsearch.register_kind(CoinFlips())
    return {"experiment": {"name": "flips", "seeds": 3, "kind": "coin"}, "data": {"name": "digits"}}


def test_a_kind_registered_outside_the_package_runs_lists_exports_and_reports(coin, tmp_path):
    store = tmp_path / "s.db"
    study = sparsearch.run(coin, store=store)
    assert study.outcome == 3 and study.kind.name == "coin"
    assert study.summary()[1:] == [0.51, 0.52]
    assert list(study.trials()["trial_key"]) == ["coin-0", "coin-1", "coin-2"]
    assert study.compare().empty
    assert study.report(tmp_path / "r").read_text() == "<p>3 flips</p>"
    runner = CliRunner()
    listed = runner.invoke(app, ["ls", "--store", str(store)])
    assert listed.exit_code == 0 and "flips" in listed.stdout and "complete" in listed.stdout
    exported = runner.invoke(app, ["export", "--store", str(store)])
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [r["arm"] for r in rows] == ["coin"] * 3 and rows[1]["test_acc"] == "0.51"
    shown = runner.invoke(app, ["show", "flips", "--store", str(store)])
    assert shown.exit_code == 0 and "flips: 3 flips" in shown.stdout
    reported = runner.invoke(app, ["report", "--store", str(store), "--out", str(tmp_path / "cli")])
    assert reported.exit_code == 0 and (tmp_path / "cli" / "index.html").read_text() == "<p>3 flips</p>"
    front = runner.invoke(app, ["front", "flips", "--store", str(store)])
    assert front.exit_code == 2 and "a coin experiment, which has no Pareto front" in front.stderr


def test_a_kind_owns_its_settings_table(coin, tmp_path):
    study = sparsearch.run({**coin, "kinds": {"coin": {"bias": 0.25}}}, store=tmp_path / "s.db")
    assert study.summary()[1:] == [0.26, 0.27]


@pytest.mark.parametrize("change, message", [
    ({"experiment": {"name": "flips", "seeds": 9, "kind": "coin"}}, "experiment.seeds: the coin kind takes at most 5, got 9"),
    ({"kinds": {"coin": {"bias": 2}}}, "kinds.coin: bias: Input should be less than or equal to 1"),
    ({"kinds": {"coin": {"biass": 0.1}}}, "kinds.coin: biass: unknown key"),
    ({"kinds": {"dice": {}}}, "kinds.dice: unknown kind 'dice'; known: coin, mask, supernet"),
])
def test_a_kind_validates_before_the_store_is_touched(coin, tmp_path, change, message):
    store = tmp_path / "s.db"
    with pytest.raises(sparsearch.SparsearchError, match=message):
        sparsearch.run({**coin, **change}, store=store)
    assert not store.exists()


def test_a_kind_without_settings_refuses_a_table(tmp_path):
    with pytest.raises(sparsearch.SparsearchError, match=r"^kinds.mask: the mask kind has no settings, got x$"):
        sparsearch.run({"kinds": {"mask": {"x": 1}}}, store=tmp_path / "s.db")


def test_an_unknown_kind_is_one_line_naming_the_known_ones(tmp_path):
    with pytest.raises(sparsearch.SparsearchError,
                       match=r"^experiment.kind: unknown kind 'nas'; known: mask, supernet$"):
        sparsearch.run({"experiment": {"kind": "nas"}}, store=tmp_path / "s.db")
    assert not (tmp_path / "s.db").exists()


def test_register_kind_names_what_a_kind_lacks():
    class Half:
        name = "half"

        def validate(self, config):
            pass

    with pytest.raises(sparsearch.SparsearchError, match="kind 'half' lacks tables, Settings, check_data, run, export"):
        sparsearch.register_kind(Half())
    with pytest.raises(sparsearch.SparsearchError, match="needs a non-empty string `name`, got ''"):
        sparsearch.register_kind(type("Nameless", (CoinFlips,), {"name": ""})())
    with pytest.raises(sparsearch.SparsearchError, match="'mask' is a built-in kind's name, which it would replace"):
        sparsearch.register_kind(type("Mask", (CoinFlips,), {"name": "mask"})())
    assert "half" not in KINDS
