from pathlib import Path

import pytest

from sparsearch.arms import build_arms, quick_arms, with_arm_settings
from sparsearch.config import Config, config_from_dict, load_config, quick, to_toml
from sparsearch.errors import SparsearchError

ISSUE_EXAMPLE = """
[experiment]
name = "digits-node-search"
seeds = 10
[data]
name = "digits"
[parent]
hidden = [300, 100]
[train]
epochs = 30
batch_size = 64
optimizer = "sgd"
lr = 0.05
momentum = 0.9
[search]
space = "node"
sparsities = [0.5, 0.75, 0.9, 0.95]
arms = ["dense", "random", "random_search"]
[arms.random_search]
candidates = 100
probe = "init_loss"
"""


def test_documented_keys_load_and_equal_the_default(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(ISSUE_EXAMPLE)
    loaded = load_config(path)
    assert loaded.model_copy(update={"arms": {}}) == Config()
    assert build_arms(loaded)["random_search"].params == build_arms(Config())["random_search"].params


def test_default_toml_round_trips(tmp_path):
    path = tmp_path / "d.toml"
    path.write_text(to_toml(Config()))
    assert load_config(path) == Config()


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"train": {"epoch": 3}}, "train.epoch: unknown key"),
        ({"bogus": {}}, "bogus: unknown key"),
        ({"train": {"epochs": "many"}}, "train.epochs: Input should be a valid integer"),
        ({"search": {"sparsities": [0.5, 1.0]}}, "search.sparsities: every sparsity must be in [0, 1), got 1.0"),
        ({"search": {"sparsities": [-0.1]}}, "must be in [0, 1)"),
        ({"search": {"arms": ["random", "random"]}}, "search.arms: arms must be distinct"),
        ({"search": {"space": "elastic"}}, 'search: space "elastic" is now [experiment] kind = "supernet"'),
        ({"parent": {"hidden": [300, 0]}}, "parent.hidden: every width must be at least 1, got 0"),
        ({"search": {"probe": "grad_norm"}}, "search: 'probe' moved to [arms.random_search] probe"),
    ],
)
def test_bad_config_names_field_and_what_is_allowed(raw, message):
    with pytest.raises(SparsearchError) as info:
        config_from_dict(raw, source="x.toml")
    text = str(info.value)
    assert text.startswith("x.toml: ") and message in text
    assert "\n" not in text


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(SparsearchError, match="config file not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nepochs = 3")
    with pytest.raises(SparsearchError, match="not valid TOML"):
        load_config(bad)


def test_quick_shrinks_seeds_epochs_candidates():
    q = quick_arms(quick(Config()))
    assert (q.experiment.seeds, q.train.epochs, build_arms(q)["random_search"].params.candidates) == (3, 5, 10)
    assert (q.supernet.epochs, q.supernet.evaluations) == (5, 40)
    assert q.experiment.name == "digits-node-search-quick"


def test_config_default_is_commented_and_round_trips(tmp_path):
    from typer.testing import CliRunner

    from sparsearch.cli import app

    printed = CliRunner().invoke(app, ["config", "--default"]).stdout
    assert "# seeds 0..N-1, or a list of seeds; arms are compared paired by seed\nseeds = 10\n" in printed
    assert "# samples = (unset)" in printed and "[arms.random_search]" in printed
    (tmp_path / "c.toml").write_text(printed)
    assert load_config(tmp_path / "c.toml") == with_arm_settings(Config())
    assert CliRunner().invoke(app, ["config", "--check", str(tmp_path / "c.toml")]).stdout == printed


def test_version_and_help_speak_to_users():
    from typer.testing import CliRunner

    from sparsearch import __version__
    from sparsearch.cli import app

    assert CliRunner().invoke(app, ["--version"]).stdout == f"sparsearch {__version__}\n"
    assert "Search, train and benchmark sparse sub-networks" in CliRunner().invoke(app, ["--help"]).stdout


EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.toml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_config_validates_as_sparsearch_run_would(path):
    from sparsearch.kinds import kind_of, settings

    config = load_config(path)
    settings(config)
    kind_of(config).validate(config)
