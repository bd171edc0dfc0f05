"""Super-networks of vit parents with elastic depth (HAT, Wang et al. 2020: a sub-network keeps
the first d blocks): every masked sub-network, dropped blocks included, equals its compacted
vit of d blocks, costs what an independently built vit of that depth and widths costs, and a
vit super-network with `depths` trains, searches and exports through the CLI; depths beyond
the vit's blocks are refused in one line."""

import numpy as np
import pytest
import tomli_w
import torch

from conftest import assert_close_across_kernels
from sparsearch.config import ParentConfig, config_from_dict
from sparsearch.data import Dataset
from sparsearch.errors import SparsearchError
from sparsearch.nets import build_parent
from sparsearch.nets.base import rows
from sparsearch.spaces.elastic import ElasticSpace
from sparsearch.spaces.node import NodeMask
from sparsearch.supernet.depth import compacted, sub_network, sub_network_cost
from sparsearch.supernet.kind import SUPERNET
from sparsearch.supernet.masking import Multipliers, masked
from sparsearch.supernet.run import elastic_space
from test_cli import sparsearch as cli
from test_supernet_conv import cli, run_and_export

SETTINGS = {"dim": 16, "depth": 3, "heads": 4, "mlp_ratio": 1.5}  # groups per block: 4 heads, 24 MLP units
SHAPE = (1, 8, 8)


def _vit(**changes):
    return build_parent(ParentConfig(kind="vit", **{**SETTINGS, **changes}), SHAPE, 5)


def _perturbed(net):
    """The parent's initialisation with every tensor moved (biases, LayerNorms' gammas and betas,
    the class token start at 0 or 1, which would hide a tensor that masking or compaction misses)."""
    gen = torch.Generator().manual_seed(3)
    return [tuple(t + 0.1 * torch.randn(t.shape, generator=gen) for t in layer) for layer in net.init(0)]


NET = _vit()
SPACE = ElasticSpace(tuple(NET.widths[1:-1]), (0.25, 0.5, 1.0), (1, 2, 3), 1)
CONFIGS = np.concatenate([
    SPACE.sample(torch.Generator().manual_seed(1), 6),
    np.array([[1, 2, 0, 1, 2, 0, 0],  # one block: the second and third dropped
              [0, 1, 2, 2, 1, 0, 1],  # two blocks: the third dropped
              [2, 0, 1, 1, 0, 2, 2]]),
    SPACE.smallest()[None], SPACE.largest()[None]])


def test_a_vits_blocks_are_one_stage_and_a_sub_network_keeps_the_first():
    assert NET.blocks == (3,) and NET.block_layers() == [[(1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12)]]
    assert NET.with_blocks((3,)).spec() == NET.spec()  # the full depth: the parent and its keys as they were
    assert NET.with_blocks((2,)).spec() == _vit(depth=2).spec() and NET.kept_groups((2,)) == [0, 1, 2, 3]
    params = NET.init(0)
    kept = NET.keep_blocks(params, (1,))
    assert len(kept) == 6 and all(a is b for a, b in zip(kept, [*params[:5], params[-1]]))  # the very tensors
    for blocks in ((0,), (4,), (1, 1)):
        with pytest.raises(SparsearchError) as refused:
            NET.with_blocks(blocks)
        assert str(refused.value) == (f"blocks: a sub-network of this vit keeps 1 to 3 blocks (a count for its one "
                                      f"stage), got {list(blocks)}")


def test_masked_sub_networks_with_dropped_blocks_equal_their_compacted_vits():
    assert {SPACE.blocks(c) for c in CONFIGS} == {(1,), (2,), (3,)}
    params = _perturbed(NET)
    x = torch.randn(64, NET.widths[0], generator=torch.Generator().manual_seed(2))
    population = masked(params, Multipliers(NET, params, SPACE).of(CONFIGS))
    together = NET.forward(population, x)
    for k, config in enumerate(CONFIGS):
        sub, thin = compacted(NET, SPACE, params, config)
        depth = SPACE.blocks(config)[0]
        assert sub.spec() == _vit(depth=depth).spec() and len(thin) == 2 + 4 * depth
        assert_close_across_kernels(together[k], sub.forward(thin, x)[0], tolerance=1e-5)
        # and the plain module of those blocks and widths, as export and latency build it
        assert_close_across_kernels(together[k], sub.module(rows(thin, 0))(x), tolerance=1e-5)


def test_a_dropped_block_is_the_identity_in_the_masked_layout():
    params = _perturbed(NET)
    x = torch.randn(64, NET.widths[0], generator=torch.Generator().manual_seed(2))
    config = np.array([2, 2, 2, 2, 2, 2, 1])  # every unit, two blocks
    population = masked(params, Multipliers(NET, params, SPACE).of(config[None]))
    module = NET.module(params)
    del module.blocks[2]
    assert_close_across_kernels(NET.forward(population, x)[0], module(x), tolerance=1e-5)


def test_a_sub_network_costs_what_an_independently_built_vit_of_its_depth_and_widths_costs():
    for config in CONFIGS:
        depth = SPACE.blocks(config)[0]
        alone = _vit(depth=depth)
        cost = alone.cost(NodeMask(tuple(tuple(range(w)) for w in SPACE.widths(config)[: 2 * depth])))
        assert sub_network_cost(NET, SPACE, config) == (cost.params, cost.flops)
        assert sub_network(NET, SPACE, config)[0] == alone
    # by hand: one block of 1 head (4 dimensions) and 6 MLP units; 16 patches of 4 pixels, 17 tokens
    weights = [16 * 4, 3 * 4 * 16, 16 * 4, 6 * 16, 16 * 6, 5 * 16]  # embedding, qkv, proj, fc1, fc2, head
    others = (16 + 12 + 16 + 6 + 16 + 5) + 2 * 16 * 3 + 17 * 16 + 16  # biases, 3 LayerNorms, positions, class token
    positions = [16, 17, 17, 17, 17, 1]
    flops = 2 * (sum(w * p for w, p in zip(weights, positions)) + 2 * 17 * 17 * 4)
    assert sub_network_cost(NET, SPACE, SPACE.smallest()) == (sum(weights) + others, flops) == (1047, 22064)


def test_the_elastic_space_of_a_vit_has_one_depth_dimension():
    config = config_from_dict({"experiment": {"kind": "supernet"}, "parent": {"kind": "vit", **SETTINGS},
                               "supernet": {"widths": [0.25, 0.5, 1.0], "depths": [1, 2, 3]}})
    assert elastic_space(config, NET) == SPACE and SPACE.choices == [3] * 6 + [3]


VIT = {
    "experiment": {"name": "vit-sn", "seeds": 1, "kind": "supernet"},
    "data": {"name": "digits"},
    "parent": {"kind": "vit", "dim": 16, "depth": 3, "heads": 2, "mlp_ratio": 1.0},
    "train": {"epochs": 1, "batch_size": 64, "optimizer": "adam", "lr": 0.003},
    "supernet": {"epochs": 2, "widths": [0.5, 1.0], "depths": [1, 2, 3], "strategies": ["random", "nsga2"],
                 "evaluations": 8, "search_population": 4, "objectives": ["params", "latency"], "retrain": 1},
    "measure": {"warmup": 1, "repeats": 3},
}


@pytest.mark.slow
def test_a_vit_super_network_with_elastic_depth_runs_and_exports_through_the_cli(tmp_path, monkeypatch):
    store, rows_ = run_and_export(tmp_path, VIT)
    assert len(rows_) == 16 and {len(r["widths"].split(",")) for r in rows_} == {6}
    assert list(rows_[0])[5:7] == ["widths", "blocks"]  # the kept blocks beside every group's width
    net = build_parent(ParentConfig(**VIT["parent"]), SHAPE, 10)
    space = ElasticSpace(tuple(net.widths[1:-1]), (0.5, 1.0), (1, 2, 3), 1)
    configs = [np.array([int(v) for v in r["config"].strip("[]").split(",")]) for r in rows_]
    assert {space.blocks(c) for c in configs} > {(1,)}  # the smallest keeps one block, and others more
    for r, config in zip(rows_, configs):
        assert int(r["params"]) == sub_network_cost(net, space, config)[0] and float(r["latency"]) > 0
        assert r["blocks"] == str(list(space.blocks(config)))
    assert max(float(r["val_acc"]) for r in rows_) > 0.2  # chance: 0.1
    monkeypatch.setenv("COLUMNS", "200")  # the table's headers on one line, whatever the caller's terminal
    shown = cli("front", "vit-sn", "--store", store, "--seed", "0")
    assert shown.returncode == 0, shown.stderr
    header = next(line for line in shown.stdout.splitlines() if "hidden widths" in line)
    assert [h.strip() for h in header.strip("┃ ").split("┃")][:2] == ["hidden widths", "blocks"]


def test_depths_beyond_a_vits_blocks_are_refused_in_one_line_before_the_store_is_touched(tmp_path):
    raw = {**VIT, "supernet": {**VIT["supernet"], "depths": [1, 4]}}
    (tmp_path / "bad.toml").write_text(tomli_w.dumps(raw))
    result = cli("run", str(tmp_path / "bad.toml"), "--store", str(tmp_path / "s.db"))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == ["error: supernet.depths: blocks kept per stage must be in 1..3, "
                                                  "got [1, 4]; keep depths of 1 to 3 (the fewest blocks a stage of "
                                                  "this parent has)"]
    assert not (tmp_path / "s.db").exists()


def test_depths_on_a_vit_pass_validation_and_the_data_check():
    config = config_from_dict({**VIT, "supernet": {**VIT["supernet"], "evaluations": 8}})
    SUPERNET.validate(config)
    SUPERNET.check_data(config, Dataset.from_arrays(np.zeros((40, *SHAPE), np.float32), np.arange(40) % 4,
                                                    name="images"))
