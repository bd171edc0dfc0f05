import pytest

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
candidates = 100
probe = "init_loss"
"""


def test_documented_keys_load_and_equal_the_default(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(ISSUE_EXAMPLE)
    assert load_config(path) == Config()


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
        ({"search": {"arms": ["random", "oracle"]}}, "search.arms: unknown arm 'oracle'; allowed: dense, gmp, grasp, lottery"),
        ({"data": {"name": "imagenet"}}, "data.name: allowed: 'digits', 'mnist1d', 'synthetic', 'mnist', 'fashion_mnist' or 'cifar10'"),
        ({"parent": {"hidden": [300, 0]}}, "parent.hidden: every hidden width must be at least 1, got 0"),
        (
            {"parent": {"hidden": [300, 10]}, "search": {"sparsities": [0.97]}},
            "search.sparsities: 0.97 removes all 10 units of hidden layer 2; use a lower sparsity or a wider parent.hidden",
        ),
        ({"search": {"probe": "grad_norm"}}, "search.probe: allowed: 'init_loss' or 'steps'"),
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
    q = quick(Config())
    assert (q.experiment.seeds, q.train.epochs, q.search.candidates) == (3, 5, 10)
    assert (q.supernet.epochs, q.search.evaluations) == (5, 40)
    assert q.experiment.name == "digits-node-search-quick"
