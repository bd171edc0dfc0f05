"""Super-networks of conv and residual parents: the masked layout equals compaction (BatchNorm
included, train and eval mode), elastic depth makes dropped blocks the identity, and cnn1d and
resnet20 super-networks train and search end to end; what the supernet kind refuses."""

import csv
import io

import numpy as np
import pytest
import tomli_w
import torch
from torch import nn

import sparsearch
from conftest import assert_close_across_kernels
from custom_cnn import small_cnn

from sparsearch.config import ParentConfig, config_from_dict
from sparsearch.data import Dataset
from sparsearch.errors import SparsearchError
from sparsearch.nets import PARENTS as PARENTS_REGISTRY, build_parent
from sparsearch.nets.base import rows
from sparsearch.spaces.elastic import ElasticSpace
from sparsearch.store import Store
from sparsearch.supernet import records
from sparsearch.supernet.depth import compacted, sub_network_cost
from sparsearch.supernet.kind import SUPERNET
from sparsearch.supernet.masking import Multipliers, masked
from sparsearch.supernet.run import SupernetRun, run_supernet, supernet_key
from sparsearch.supernet.sorting import UnitSorter
from sparsearch.supernet.train import shares
from test_cli import sparsearch as cli
from test_resnet20 import _perturbed, blob_arrays

PARENTS = {"cnn1d": ((1, 40), None), "lenet5": ((1, 8, 8), None), "resnet20": ((3, 8, 8), [4, 8, 16]),
           "vit": ((1, 8, 8), None), "small_cnn": ((1, 8, 8), None), "conv4": ((3, 8, 8), [8, 16])}


@pytest.fixture(scope="module", autouse=True)
def _registry():
    """A user's module parent (tests/custom_cnn.py) and one without node groups."""
    sparsearch.register_parent("small_cnn", small_cnn)
    sparsearch.register_parent("linear_only", lambda shape, n: nn.Sequential(nn.Flatten(), nn.Linear(64, n)))
    yield
    for kind in ("small_cnn", "linear_only"):
        PARENTS_REGISTRY.pop(kind)


@pytest.fixture(autouse=True)
def _threads():
    """One thread: these convolutions are tiny (as in test_resnet20.py)."""
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(2)


def _parent(kind):
    shape, channels = PARENTS[kind]
    return build_parent(ParentConfig(kind=kind, channels=channels), shape, 5)


def _params(net):
    return _perturbed(net, 0) if net.kind == "resnet20" else net.init(0)


@pytest.mark.parametrize("kind", PARENTS)
def test_masked_sub_networks_equal_their_compacted_networks_in_train_and_eval_mode(kind):
    net = _parent(kind)
    params = _params(net)
    space = ElasticSpace(tuple(net.widths[1:-1]), (0.25, 0.5, 0.75, 1.0))
    configs = np.concatenate([space.sample(torch.Generator().manual_seed(1), 3), space.smallest()[None]])
    x = torch.randn(64, net.widths[0], generator=torch.Generator().manual_seed(2))
    population = masked(params, Multipliers(net, params, space).of(configs))
    if hasattr(net, "calibrate"):
        net.calibrate(population, x)
    for train in (True, False):
        together = net.forward(population, x, train=train)
        for k, config in enumerate(configs):
            alone = net.forward(net.compact(rows(population, k), [space.mask(config)]), x, train=train)[0]
            assert_close_across_kernels(together[k], alone, tolerance=1e-5)


@pytest.mark.parametrize("kind", [*PARENTS, "mlp"])
def test_sorting_channels_by_importance_keeps_the_network_and_orders_every_group(kind):
    net = _parent(kind) if kind != "mlp" else build_parent(ParentConfig(hidden=[12, 8]), (20,), 5)
    params = [tuple(t.clone() for t in layer) for layer in _params(net)]
    space = ElasticSpace(tuple(net.widths[1:-1]), (0.5, 1.0))
    x = torch.randn(64, net.widths[0], generator=torch.Generator().manual_seed(2))
    stacked = [tuple(t.unsqueeze(0) for t in layer) for layer in params]
    before = {train: net.forward(stacked, x, train=train)[0] for train in (True, False)}
    optimizer = torch.optim.SGD([t for layer in params for t in layer], lr=0.1, momentum=0.9)
    for t in optimizer.param_groups[0]["params"]:  # momentum equal to the tensor: it must move with it
        optimizer.state[t]["momentum_buffer"] = t.clone()
    UnitSorter(net, params, space).sort(params, optimizer)
    for group, score in enumerate(net.unit_scores([layer[0].abs() for layer in params])):
        assert bool((score[:-1] >= score[1:]).all()), group  # most important first
    for train in (True, False):  # a permutation of every group's units: the same function
        assert_close_across_kernels(net.forward(stacked, x, train=train)[0], before[train], tolerance=1e-5)
    moved = [layer for layer, old in zip(params, _params(net)) if not torch.equal(layer[0], old[0])]
    assert moved, "nothing was reordered"
    assert all(torch.equal(optimizer.state[t]["momentum_buffer"], t) for layer in params for t in layer)


def test_sort_channels_enters_the_supernet_key_only_when_on():
    assert "sort_channels" not in config_from_dict({}).supernet.keyed()
    assert config_from_dict({"supernet": {"sort_channels": True}}).supernet.keyed()["sort_channels"] is True


def test_a_masked_channel_is_zero_in_every_tensor_and_shares_count_its_users():
    net = _parent("cnn1d")  # groups (25, 25, 25): widths 6 and 25 at fractions 0.25 and 1.0
    space = ElasticSpace(tuple(net.widths[1:-1]), (0.25, 1.0))
    multipliers = Multipliers(net, net.init(0), space).of(np.array([[0, 1, 1], [1, 1, 1]]))
    (w0, b0), (w1, b1), *_ = multipliers
    assert torch.equal(b0[0], (torch.arange(25) < 6).float()) and torch.equal(b0[1], torch.ones(25))
    assert w0[0, :6].eq(1).all() and w0[0, 6:].eq(0).all()
    assert w1[0, :, :6].eq(1).all() and w1[0, :, 6:].eq(0).all() and b1[0].eq(1).all()
    (u0, c0), *_ = shares(multipliers, torch.tensor([3.0, 1.0]))  # rows weighing 3 and 1
    assert torch.equal(c0, torch.tensor([4.0] * 6 + [1.0] * 19))


def test_a_dropped_block_is_the_identity_and_costs_what_the_network_without_it_does():
    net = _parent("resnet20")
    params = _perturbed(net, 0)
    space = ElasticSpace(tuple(net.widths[1:-1]), (0.5, 1.0), (1, 2, 3), 3)
    multipliers = Multipliers(net, params, space)
    config = np.array([1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 2, 0])  # stage 2 keeps 2 blocks, stage 3 one
    assert space.blocks(config) == (2, 3, 1)
    x = torch.randn(64, net.widths[0], generator=torch.Generator().manual_seed(2))
    population = masked(params, multipliers.of(config[None]))
    net.calibrate(population, x)
    module = net.module(rows(net.compact(rows(population, 0), [space.mask(config)]), 0))
    module.layer1[2] = nn.Identity()
    module.layer3[1], module.layer3[2] = nn.Identity(), nn.Identity()
    for train in (True, False):
        expected = module.train(train)(x)
        assert_close_across_kernels(net.forward(population, x, train=train)[0], expected, tolerance=1e-5)
    full = config.copy()
    full[-3:] = 2
    cost = net.cost(space.mask(full))
    kept = multipliers.of(full[None])
    dropped = [5, 6, 15, 16, 17, 18]  # stage 1 block 3; stage 3 blocks 2 and 3
    params_dropped = sum(int(kept[i][j].sum()) for i in dropped for j in range(3))
    flops_dropped = sum(2 * int(kept[i][0].sum()) * net.conv_positions[i] for i in dropped)
    assert sub_network_cost(net, space, config) == (cost.params - params_dropped, cost.flops - flops_dropped)
    assert sub_network_cost(net, space, full) == (cost.params, cost.flops)
    # compacted: the parent with blocks (2, 3, 1) at the configuration's widths, equal to the masked one
    sub, thin = compacted(net, space, rows(population, 0), config)
    assert sub.blocks == (2, 3, 1) and len(thin) == 2 + 2 * 6
    for train in (True, False):
        assert_close_across_kernels(sub.forward(thin, x, train=train)[0], net.forward(population, x, train=train)[0],
                                    tolerance=1e-5)


def test_a_resnet20_super_network_with_elastic_width_and_depth_trains_and_searches(tmp_path):
    config = config_from_dict({
        "experiment": {"name": "deep", "seeds": 1, "kind": "supernet"}, "data": {"name": "blobs3"},
        "parent": {"kind": "resnet20", "channels": [4, 8, 16]}, "train": {"epochs": 1, "batch_size": 32, "lr": 0.1},
        "supernet": {"epochs": 3, "widths": [0.5, 1.0], "depths": [1, 3], "strategies": ["random", "nsga2"],
                     "evaluations": 8, "search_population": 4, "objectives": ["flops", "latency"], "retrain": 2}})
    data = Dataset.from_arrays(*blob_arrays(), name="blobs3")
    SUPERNET.validate(config)
    SUPERNET.check_data(config, data)
    with Store(tmp_path / "s.db", write=True) as store:
        assert run_supernet(config, data, store) == SupernetRun(searched=2, reused=0)
        rows_ = records.evaluation_rows(store, "deep")
        assert len(rows_) == 16 and all(len(r["config"]) == 12 + 3 for r in rows_)
        curves = next(iter(store.shared(records.SUPERNET).values()))
        assert curves["largest_val_acc"][-1] > 0.5
        search = records.searches(store, "deep")[0]
        parent = search["rounds"]["parent"]
        net = build_parent(config.parent, data.shape, 4)
        assert parent["params"] == net.cost(ElasticSpace(parent["widths"][1:-1], (1.0,)).mask([0] * 12)).params
        assert max(r["flops"] for r in rows_) <= parent["flops"] and min(r["val_acc"] for r in rows_) >= 0
        assert all(r["latency"] > 0 for r in rows_) and parent["latency"] > 0  # measured per sub-network
        assert len(records.retrained(store, "deep")) == 2  # front sub-networks, depths included, retrained
        # every evaluated sub-network, compacted to a ResNet of its blocks and widths, equals the masked
        # super-network (BatchNorm calibrated on the same training data)
        weights = net.from_state_dict(records.supernet(store, search["rounds"]["supernet"])[0])
        space = ElasticSpace(tuple(net.widths[1:-1]), (0.5, 1.0), (1, 3), 3)
        configs = np.array([r["config"] for r in rows_[:6]])
        population = masked(weights, Multipliers(net, weights, space).of(configs))
        net.calibrate(population, data.x_train)
        logits = net.forward(population, data.x_val)
        for k, c in enumerate(configs):
            sub, thin = compacted(net, space, weights, c)
            assert sub.blocks == space.blocks(c) and sum(len(layer) == 5 for layer in thin) == 1 + 2 * sum(sub.blocks)
            sub.calibrate(thin, data.x_train)
            assert_close_across_kernels(sub.forward(thin, data.x_val)[0], logits[k], tolerance=1e-5)
        assert run_supernet(config, data, store) == SupernetRun(searched=0, reused=2)


CNN = {
    "experiment": {"name": "cnn-sn", "seeds": 1, "kind": "supernet"},
    "data": {"name": "synthetic", "samples": 400},
    "parent": {"kind": "cnn1d", "channels": [8, 8, 8]},
    "train": {"epochs": 2, "batch_size": 64, "optimizer": "adam", "lr": 0.01},
    "supernet": {"epochs": 4, "widths": [0.25, 0.5, 1.0], "strategies": ["random", "linas"], "evaluations": 8,
                 "search_population": 4, "objectives": ["flops", "latency"], "retrain": 2, "sort_channels": True},
}


def run_and_export(tmp_path, raw: dict) -> tuple[str, list[dict]]:
    """`sparsearch run` of the super-network experiment `raw` into a new store, then `export
    --evaluations`: the store's path and the exported rows."""
    (tmp_path / "sn.toml").write_text(tomli_w.dumps(raw))
    store = str(tmp_path / "s.db")
    result = cli("run", str(tmp_path / "sn.toml"), "--store", store, "--quiet")
    assert result.returncode == 0 and "Final hypervolume vs random" in result.stdout, result.stderr
    exported = cli("export", "--store", store, "--evaluations", "--experiment", raw["experiment"]["name"])
    assert exported.returncode == 0, exported.stderr
    return store, list(csv.DictReader(io.StringIO(exported.stdout)))


@pytest.mark.slow
def test_a_cnn1d_super_network_runs_exports_and_reports_through_the_cli(tmp_path):
    store, rows_ = run_and_export(tmp_path, CNN)
    assert len(rows_) == 16 and {len(r["widths"].split(",")) for r in rows_} == {3}
    assert "blocks" not in rows_[0]  # no elastic depth: the export's columns as they were
    assert all(int(r["params"]) > 0 and int(r["flops"]) > 0 for r in rows_)
    assert max(float(r["val_acc"]) for r in rows_) > 0.6  # chance: 0.25
    report = cli("report", "--store", store, "--experiment", "cnn-sn", "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "report" / "index.html").exists()
    with Store(tmp_path / "s.db", write=False) as opened:
        assert len(records.retrained(opened, "cnn-sn")) == 2


def test_a_conv_super_network_is_keyed_by_its_parent_spec_and_depths_only_when_set():
    data = Dataset.from_arrays(*blob_arrays(), name="blobs3")
    raw = {"experiment": {"kind": "supernet"}, "parent": {"kind": "resnet20", "channels": [4, 8, 16]},
           "supernet": {"retrain": 0}}
    keys = []
    for parent, supernet in (({}, {}), ({"channels": [4, 8, 32]}, {}), ({}, {"depths": [2, 3]})):
        config = config_from_dict({**raw, "parent": {**raw["parent"], **parent},
                                   "supernet": {**raw["supernet"], **supernet}})
        net = build_parent(config.parent, data.shape, data.n_classes)
        space = ElasticSpace(tuple(net.widths[1:-1]), tuple(config.supernet.widths))
        keys.append(supernet_key(config, data, net, space, 0))
    assert len(set(keys)) == 3
    assert "depths" not in config_from_dict(raw).supernet.keyed()


REFUSALS = {
    "depths on cnn1d": ({"parent": {"kind": "cnn1d"}, "supernet": {"depths": [1, 2]}},
                        "supernet.depths: elastic depth is for resnet20 or vit parents, got parent.kind 'cnn1d'"),
}


@pytest.mark.parametrize(("changes", "fragment"), REFUSALS.values(), ids=REFUSALS.keys())
def test_what_a_super_network_cannot_be_is_refused_in_one_line(changes, fragment):
    raw = {"experiment": {"kind": "supernet"}, **changes}
    with pytest.raises(SparsearchError, match=None) as refused:
        SUPERNET.validate(config_from_dict(raw))
    assert fragment in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize(("blocks", "depths", "message"), [
    (None, [1, 4], "supernet.depths: blocks kept per stage must be in 1..3, got [1, 4]; keep depths of 1 to 3 (the "
                   "fewest blocks a stage of this parent has)"),
    ([3, 2, 3], [1, 3], "supernet.depths: blocks kept per stage must be in 1..2, got [1, 3]; keep depths of 1 to 2 "
                        "(the fewest blocks a stage of this parent has)"),
])
def test_depths_beyond_the_parents_blocks_are_refused_at_the_data_shape(blocks, depths, message):
    parent = {"kind": "resnet20", "channels": [4, 8, 16], **({"blocks": blocks} if blocks else {})}
    config = config_from_dict({"experiment": {"kind": "supernet"}, "parent": parent, "supernet": {"depths": depths}})
    data = Dataset.from_arrays(np.zeros((40, 3, 8, 8), np.float32), np.arange(40) % 4, name="images")
    with pytest.raises(SparsearchError) as refused:
        SUPERNET.check_data(config, data)
    assert str(refused.value) == message


def test_a_parent_without_node_groups_is_refused_at_the_data_shape():
    config = config_from_dict({"experiment": {"kind": "supernet"}, "parent": {"kind": "linear_only"}})
    data = Dataset.from_arrays(np.zeros((40, 1, 8, 8), np.float32), np.arange(40) % 4, name="flat")
    with pytest.raises(SparsearchError, match=r"parent.kind: a super-network needs node groups to make elastic, "
                                              r"and 'linear_only' has none"):
        SUPERNET.check_data(config, data)


def test_a_width_that_empties_a_conv_group_is_refused_at_the_data_shape():
    config = config_from_dict({"experiment": {"kind": "supernet"}, "parent": {"kind": "cnn1d", "channels": [2, 8, 8]},
                               "supernet": {"widths": [0.1, 1.0], "evaluations": 2}})
    data = Dataset.from_arrays(np.zeros((40, 1, 40), np.float32), np.arange(40) % 4, name="flat")
    with pytest.raises(SparsearchError, match=r"supernet.widths: 0.1 of cnn1d's node group 1: 2 units rounds to 0"):
        SUPERNET.check_data(config, data)
