"""Your own nn.Module as a parent (`sparsearch.register_parent`): a small CNN from outside the
package (tests/custom_cnn.py) runs a weight-space and a node-space experiment; its population
forward equals the module alone, compaction equals masking, an untraceable module's node space
is a one-line error before the store exists, and declared channel groups work."""

import pytest
import torch

import sparsearch
from sparsearch.config import DataConfig, ParentConfig, config_from_dict
from sparsearch.data import load_dataset
from sparsearch.kinds import experiment_kind
from sparsearch.nets import PARENTS, build_parent
from sparsearch.nets.base import rows, stacked
from sparsearch.spaces.node import sample_mask
from sparsearch.spaces.weight import WeightMask

from custom_cnn import DECLARED, functional_cnn, small_cnn
from conftest import assert_close_across_kernels

SHAPE = (1, 8, 8)


@pytest.fixture(autouse=True)
def _registry():
    """Registrations made by a test do not outlive it."""
    parents = dict(PARENTS)
    sparsearch.register_parent("small_cnn", small_cnn)
    yield
    PARENTS.clear(), PARENTS.update(parents)


def parent(kind="small_cnn"):
    return build_parent(ParentConfig(kind=kind), SHAPE, 10)


def config(space, arms, **search):
    return {"experiment": {"name": f"custom-{space}", "seeds": 2}, "data": {"name": "digits"},
            "parent": {"kind": "small_cnn"}, "train": {"epochs": 2},
            "search": {"space": space, "sparsities": [0.5], "arms": arms, **search},
            "store": {"save_weights": True}}


def test_forward_equals_the_module_alone_and_init_leaves_the_global_rng_alone():
    net = parent()
    state = torch.random.get_rng_state()
    networks = [net.init(s) for s in (0, 1, 2)]
    assert torch.equal(state, torch.random.get_rng_state())
    torch.manual_seed(1)
    assert torch.equal(small_cnn(SHAPE, 10).conv1.weight, networks[1][0][0])
    assert net.weight_shapes == ((6, 1, 3, 3), (8, 6, 3, 3), (10, 128)) and net.widths == (64, 6, 8, 10)
    x = torch.randn(5, 64, generator=torch.Generator().manual_seed(3))
    shared, own = net.forward(stacked(networks), x), net.forward(stacked(networks), x.expand(3, *x.shape))
    for p, params in enumerate(networks):
        alone = small_cnn(SHAPE, 10)
        alone.load_state_dict(net.state_dict(params))
        assert_close_across_kernels(shared[p], alone(x.view(5, *SHAPE)))
        assert_close_across_kernels(own[p], alone(x.view(5, *SHAPE)))
    back = net.from_state_dict(net.state_dict(networks[0]))
    assert all(torch.equal(a, b) for la, lb in zip(back, networks[0]) for a, b in zip(la, lb))


@pytest.mark.parametrize("kind", ["small_cnn", "declared"])
def test_compaction_equals_masking_the_dropped_channels(kind):
    sparsearch.register_parent("declared", functional_cnn, groups=DECLARED)
    net = parent(kind)
    params = net.init(0)
    mask = sample_mask(net.widths[1:-1], 0.5, torch.Generator().manual_seed(1))
    thin = rows(net.compact(params, [mask]), 0)
    masked = net.state_dict(params)
    for group, keep in zip(net.groups, mask.keep):
        dropped = torch.tensor(sorted(set(range(group.size)) - set(keep)))
        for name, dim, _ in group.members:
            if dim == 0:  # a dropped channel's incoming weights and bias
                masked[name] = masked[name].index_fill(0, dropped, 0.0)
    x = torch.randn(7, 64, generator=torch.Generator().manual_seed(2))
    expected = net.forward(stacked([net.from_state_dict(masked)]), x)[0]
    assert_close_across_kernels(net.forward(stacked([thin]), x)[0], expected)
    module = net.module(thin)
    assert_close_across_kernels(module(x), expected)
    kept = sum(map(len, mask.keep))
    assert sum(p.numel() for p in module.parameters()) == net.cost(mask).params
    assert net.cost(mask).node_sparsity == pytest.approx(1 - kept / sum(net.widths[1:-1]))
    assert len(net.unit_scores([w.abs() for w, *_ in params])) == len(net.groups)


def test_weight_space_experiment_and_networks_back_with_their_accuracy(tmp_path):
    study = sparsearch.run(config("weight", ["dense", "random", "magnitude", "snip"]), store=tmp_path / "w.db")
    trials = study.trials()
    assert len(trials) == 4 * 2 and set(trials.arm) == {"dense", "random", "magnitude", "snip"}
    assert (trials.final_test_acc > 0.3).all()
    sparse = trials[trials.arm != "dense"]
    assert sparse.weight_sparsity.between(0.49, 0.51).all() and (sparse.flops < trials.flops.max()).all()
    test = load_dataset(DataConfig(name="digits"))
    for row in trials.itertuples():
        net = study.network(row.trial_key)
        with torch.no_grad():
            accuracy = (net(test.x_test).argmax(1) == test.y_test).float().mean().item()
        assert accuracy == pytest.approx(row.test_acc, abs=1e-6)
    mask = WeightMask(tuple(torch.ones(s, dtype=torch.bool) for s in parent().weight_shapes))
    assert parent().cost(mask).params == sum(p.numel() for p in small_cnn(SHAPE, 10).parameters())


def test_node_space_experiment_trains_thinner_networks(tmp_path):
    arms = ["dense", "random", "random_search", "l1_norm", "taylor", "fpgm"]
    study = sparsearch.run(config("node", arms), store=tmp_path / "n.db")
    trials = study.trials()
    assert len(trials) == len(arms) * 2 and (trials.final_test_acc > 0.2).all()
    sparse = trials[trials.arm != "dense"]
    assert (sparse.node_sparsity == 0.5).all() and (sparse.params < trials.params.max()).all()
    test = load_dataset(DataConfig(name="digits"))
    row = sparse.iloc[0]
    net = study.network(row.trial_key)
    assert (net.conv1.out_channels, net.conv2.out_channels) == (3, 4)
    with torch.no_grad():
        accuracy = (net(test.x_test).argmax(1) == test.y_test).float().mean().item()
    assert accuracy == pytest.approx(row.test_acc, abs=1e-6)


def test_an_untraceable_module_fails_the_node_space_in_one_line_before_the_store_exists(tmp_path):
    sparsearch.register_parent("functional", functional_cnn)
    node = {**config("node", ["dense"]), "parent": {"kind": "functional"}}
    with pytest.raises(sparsearch.SparsearchError) as excinfo:
        sparsearch.run(node, store=tmp_path / "s.db")
    assert "\n" not in str(excinfo.value) and "groups=" in str(excinfo.value)
    assert not (tmp_path / "s.db").exists()
    data = load_dataset(DataConfig(name="digits"))
    experiment_kind("mask").check_data(config_from_dict({**node, "search": {**node["search"], "space": "weight"}}), data)
    sparsearch.register_parent("functional", functional_cnn, groups=DECLARED)  # declared groups: a node space
    experiment_kind("mask").check_data(config_from_dict(node), data)


class _Depthwise(torch.nn.Module):
    """A conv, a depthwise conv (groups = channels) and a classifier: MobileNet's pattern."""

    def __init__(self, n_classes):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.depthwise = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.fc = torch.nn.Linear(8 * 8 * 8, n_classes)

    def forward(self, x):
        return self.fc(torch.relu(self.depthwise(torch.relu(self.conv(x)))).flatten(1))


class _Normalized(torch.nn.Module):
    def __init__(self, n_classes, running):
        super().__init__()
        self.conv, self.bn = torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4, track_running_stats=running)
        self.fc = torch.nn.Linear(4 * 8 * 8, n_classes)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).flatten(1))


def test_a_grouped_convolution_is_refused_by_the_node_space_before_the_store_and_runs_in_the_weight_space(tmp_path):
    """Issue 29, item 9: thinning the channels of a depthwise conv left its groups=8 and the run
    crashed mid-way (`Given groups=8, expected weight to be at least 8 at dimension 0`)."""
    sparsearch.register_parent("small_cnn", lambda shape, n: _Depthwise(n))
    store = tmp_path / "s.db"
    with pytest.raises(sparsearch.SparsearchError) as error:
        sparsearch.run(config("node", ["dense", "random"]), store=store)
    assert str(error.value) == ("parent kind 'small_cnn': 'depthwise' is a grouped convolution (groups=8), whose group "
                                "count cannot shrink with its channels, so the node space cannot thin it; use "
                                "search.space = \"weight\"")
    assert not store.exists()
    study = sparsearch.run(config("weight", ["dense", "random"]), store=store)
    assert len(study.trials()) == 4


@pytest.mark.parametrize("running", [True, False])
def test_batchnorm_is_refused_in_a_module(running, tmp_path):
    """Issue 29, item 13: with batch statistics a trained module scored 0.91 on the whole test set
    and 0.55 evaluated in pairs; running statistics the stacked program cannot update."""
    sparsearch.register_parent("small_cnn", lambda shape, n: _Normalized(n, running))
    with pytest.raises(sparsearch.SparsearchError, match=r"^parent kind 'small_cnn': 'bn' is a BatchNorm, .* use "
                       r"GroupNorm or LayerNorm \(or the built-in resnet20, whose BatchNorm is calibrated\)$"):
        sparsearch.run(config("weight", ["dense", "random"]), store=tmp_path / "s.db")
    assert not (tmp_path / "s.db").exists()
