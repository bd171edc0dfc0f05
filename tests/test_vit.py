"""The `vit` parent: the population forward against a transformer built from torch.nn layers
alone (a convolution as the patch embedding, `nn.TransformerEncoderLayer`), training in a
population against the module alone, head and unit compaction against masking, costs and
footprint by hand, the settings' refusals, and end-to-end runs of the weight and node arms."""

import math

import numpy as np
import pytest
import torch
from conftest import assert_close_across_kernels, train_alone
from torch import nn

import sparsearch
from sparsearch.config import Config, ParentConfig, TrainConfig, config_from_dict
from sparsearch.data import Dataset
from sparsearch.engine.trainer import train_population
from sparsearch.errors import SparsearchError
from sparsearch.nets import build_parent, check_settings, from_spec
from sparsearch.nets.base import rows, stacked
from sparsearch.spaces.node import NodeMask, full_mask, sample_mask
from sparsearch.spaces.weight import WeightMask, full_weight_mask
from sparsearch.unit_importance import l1_norm, unit_scores
from test_resnet20 import blob_arrays

SMALL = {"dim": 16, "depth": 2, "heads": 4, "mlp_ratio": 1.5}
LOGITS = 1e-5
"""Logits agree to this fraction of the largest (about 80 fp32 ulps of it): the population's
batched GEMMs and torch.nn's kernels sum in different orders."""


def assert_logits(got, expected):
    torch.testing.assert_close(got, expected, rtol=0, atol=LOGITS * float(expected.abs().max()))


def parent(shape=(1, 8, 8), classes=10, **settings):
    return build_parent(ParentConfig(kind="vit", **settings), shape, classes)


class Reference(nn.Module):
    """The vit parent from torch.nn layers alone: `nn.Conv*d` of kernel = stride = patch embeds
    the patches, `nn.TransformerEncoderLayer` (pre-norm, GELU, no dropout) is each block."""

    def __init__(self, net, params):
        super().__init__()
        self.net = net
        conv = nn.Conv1d if len(net.input_shape) == 2 else nn.Conv2d
        self.embed = conv(net.input_shape[0], net.dim, net.patch, net.patch)
        self.blocks = nn.ModuleList(nn.TransformerEncoderLayer(net.dim, net.heads, net.hidden, dropout=0.0,
                                                               activation="gelu", batch_first=True, norm_first=True)
                                    for _ in range(net.depth))
        self.norm, self.head = nn.LayerNorm(net.dim), nn.Linear(net.dim, net.n_classes)
        (w, b, self.position, *cls), tail = params[0], params[-1]
        self.cls = cls[0] if cls else None
        with torch.no_grad():
            self.embed.weight.copy_(w.view(self.embed.weight.shape)), self.embed.bias.copy_(b)
            for i, block in enumerate(self.blocks):
                qkv, proj, fc1, fc2 = params[1 + 4 * i : 5 + 4 * i]
                pairs = [(block.self_attn.in_proj_weight, qkv[0]), (block.self_attn.in_proj_bias, qkv[1]),
                         (block.norm1.weight, qkv[2]), (block.norm1.bias, qkv[3]),
                         (block.self_attn.out_proj.weight, proj[0]), (block.self_attn.out_proj.bias, proj[1]),
                         (block.linear1.weight, fc1[0]), (block.linear1.bias, fc1[1]),
                         (block.norm2.weight, fc1[2]), (block.norm2.bias, fc1[3]),
                         (block.linear2.weight, fc2[0]), (block.linear2.bias, fc2[1])]
                for target, source in pairs:
                    target.copy_(source)
            for target, source in zip((self.head.weight, self.head.bias, self.norm.weight, self.norm.bias), tail):
                target.copy_(source)

    def forward(self, x):
        h = self.embed(x.view(-1, *self.net.input_shape)).flatten(2).transpose(1, 2)
        if self.cls is not None:
            h = torch.cat([self.cls.expand(h.shape[0], 1, -1), h], 1)
        h = h + self.position
        for block in self.blocks:
            h = block(h)
        return self.head(self.norm(h[:, 0] if self.cls is not None else h.mean(1)))


def randomized(net, seed):
    """A network of `net` with every parameter drawn at random (LayerNorms and biases too)."""
    gen = torch.Generator().manual_seed(seed)
    return [tuple(torch.randn(t.shape, generator=gen) * (0.5 if i else 0.3) for i, t in enumerate(layer))
            for layer in net.init(seed)]


@pytest.mark.parametrize("shape, pool", [((1, 8, 8), "cls"), ((3, 8, 8), "mean"), ((1, 40), "cls"),
                                         ((2, 12), "mean")])
def test_population_forward_equals_a_transformer_of_torch_nn_layers(shape, pool):
    net = parent(shape, pool=pool, **SMALL)
    networks = [randomized(net, s) for s in (0, 1, 2)]
    x = torch.randn(5, math.prod(shape), generator=torch.Generator().manual_seed(3))
    population = stacked(networks)
    shared, own = net.forward(population, x), net.forward(population, x.expand(3, *x.shape))
    for p, params in enumerate(networks):
        with torch.no_grad():
            expected = Reference(net, params).eval()(x)
            assert_logits(net.module(params)(x), expected)
        assert_logits(shared[p], expected)
        assert_logits(own[p], expected)
    assert net.weight_shapes == tuple(tuple(layer[0].shape) for layer in networks[0])


def test_defaults_fit_digits_and_mnist1d_and_the_spec_rebuilds_the_parent():
    digits, mnist1d = parent((1, 8, 8)), parent((1, 40))
    assert (digits.patch, digits.patches, digits.sequence) == (2, 16, 17)
    assert (mnist1d.patch, mnist1d.patches, mnist1d.patch_features) == (4, 10, 4)
    assert digits.widths == (64, 4, 128, 4, 128, 10) and digits.head_dim == 16
    assert digits.spec() == {"kind": "vit", "input": [1, 8, 8], "classes": 10, "settings": {
        "patch": 2, "dim": 64, "depth": 2, "heads": 4, "mlp_ratio": 2.0, "pool": "cls"}}
    assert from_spec(digits.spec()) == digits and from_spec(mnist1d.spec()) == mnist1d
    assert parent((40,)) == mnist1d  # flat features are one channel of a signal


@pytest.fixture(scope="module")
def blobs():
    return Dataset.from_arrays(*blob_arrays(160), name="blobs3")


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_a_population_trains_as_the_modules_alone(blobs, optimizer):
    net = parent(blobs.shape, blobs.n_classes, **SMALL)
    recipe = TrainConfig(epochs=2, batch_size=32, optimizer=optimizer, lr=0.01 if optimizer == "adamw" else 0.1,
                         weight_decay=0.01)
    seeds = [0, 1, 2]
    curves = train_population(net, stacked([net.init(s) for s in seeds]), seeds, blobs, recipe)
    for p, seed in enumerate(seeds):
        model = train_alone(net.module(net.init(seed)), seed, blobs, recipe)
        trained = net.state_dict(rows(curves.final, p))
        assert trained.keys() == model.state_dict().keys()
        for name, expected in model.state_dict().items():
            if name.endswith("qkv.bias"):  # the key bias moves no score (softmax ignores a shift per query):
                expected, trained[name] = expected[: net.dim], trained[name][: net.dim]  # its gradient is
                # rounding noise, which Adam scales up to steps of lr; the query and value biases are compared
            assert_close_across_kernels(trained[name], expected, msg=name)
        with torch.no_grad():
            assert_close_across_kernels(net.forward(curves.final, blobs.x_test)[p], model(blobs.x_test))
        initial = net.state_dict(net.init(seed))
        assert not torch.equal(trained["blocks.0.attn.qkv.weight"], initial["blocks.0.attn.qkv.weight"])


def test_populations_are_chunked_by_their_footprint_with_the_same_numbers(blobs):
    net = parent(blobs.shape, blobs.n_classes, dim=8, depth=1, heads=2, mlp_ratio=2.0)
    recipe = TrainConfig(epochs=1, batch_size=16, optimizer="adam", lr=0.01)
    seeds = [0, 1, 2, 3, 4]
    population = stacked([net.init(s) for s in seeds])
    one_network, widest = net.footprint(population, recipe.batch_size)
    # 3x8x8, patch 2: 16 patches of 12 features, 17 tokens of 8; 2 heads of 4, 16 MLP units, 4 classes.
    # params: embed 96 + 8 + pos 136 + cls 8, qkv 192 + 24 + 16, proj 64 + 8, fc1 128 + 16 + 16, fc2 128 + 8,
    # head 32 + 4 + 16 = 900; activations per example: 16 x 12 + 17 x 8, and per block LN 136, qkv 408,
    # scores and softmax 2 x 2 x 17 x 17, heads 136, proj, residual, LN 3 x 136, units 2 x 272, fc2, residual 2 x 136,
    # then 8 + 8 + 4
    activations = 192 + 136 + 136 + 408 + 2 * 578 + 136 + 3 * 136 + 2 * 272 + 2 * 136 + 20
    assert widest == 578 and one_network == 4 * (4 * 900 + 2 * 16 * activations)
    whole = train_population(net, population, seeds, blobs, recipe)
    chunked = train_population(net, population, seeds, blobs, recipe, max_memory=2 * one_network)
    assert torch.equal(whole.train_loss, chunked.train_loss) and torch.equal(whole.test_acc, chunked.test_acc)


@pytest.mark.parametrize("shape, pool", [((1, 8, 8), "cls"), ((1, 40), "mean")])
def test_compaction_is_the_same_function_as_zeroing_the_dropped_heads_and_units(shape, pool):
    net = parent(shape, pool=pool, **SMALL)
    params = randomized(net, 0)
    gen = torch.Generator().manual_seed(1)
    masks = [sample_mask(net.widths[1:-1], 0.5, gen) for _ in range(2)]
    thin = net.compact(params, masks)
    x = torch.randn(7, math.prod(shape), generator=gen)
    for p, mask in enumerate(masks):
        masked = [tuple(t.clone() for t in layer) for layer in params]
        for block in range(net.depth):
            qkv, fc1 = masked[1 + 4 * block], masked[3 + 4 * block]
            heads = torch.ones(net.heads, dtype=torch.bool)
            heads[list(mask.keep[2 * block])] = False
            rows_of_dropped = heads.repeat_interleave(net.head_dim).repeat(3)  # a dropped head's q, k, v: v = 0
            qkv[0][rows_of_dropped], qkv[1][rows_of_dropped] = 0, 0
            units = torch.ones(net.hidden, dtype=torch.bool)
            units[list(mask.keep[2 * block + 1])] = False
            fc1[0][units], fc1[1][units] = 0, 0  # GELU(0) = 0
        expected = net.forward(stacked([masked]), x)[0]
        assert_logits(net.forward(thin, x)[p], expected)
        one = rows(thin, p)
        assert [one[1 + 4 * b][0].shape[0] for b in range(net.depth)] == [3 * 2 * net.head_dim] * net.depth
        assert [one[3 + 4 * b][0].shape[0] for b in range(net.depth)] == [12] * net.depth
        assert tuple(one[0][2].shape) == (net.sequence, net.dim)  # the residual width stays
        with torch.no_grad():
            assert_logits(net.module(one)(x), expected)


def test_costs_by_hand():
    net = parent((1, 4, 4), 3, dim=8, depth=1, heads=2, mlp_ratio=2.0)
    # 4 patches of 4 pixels, 5 tokens; weights: embed 8x4, qkv 24x8, proj 8x8, fc1 16x8, fc2 8x16, head 3x8
    weights = [32, 192, 64, 128, 128, 24]
    others = (8 + 24 + 8 + 16 + 8 + 3) + 3 * 2 * 8 + 5 * 8 + 8  # biases, 3 LayerNorms, positions, class token
    dense = net.cost(full_mask(net.widths[1:-1]))
    attention = 2 * 25 * 8  # q k^T and scores x v: 5 x 5 x 8 multiply-adds each
    assert dense.params == sum(weights) + others
    assert dense.flops == 2 * (32 * 4 + (192 + 64 + 128 + 128) * 5 + 24 + attention)
    assert dense.node_sparsity == 0 and dense.weight_sparsity == 0
    assert net.cost(full_weight_mask(net.weight_shapes)) == dense
    thin = net.cost(NodeMask(((1,), (0, 5, 6, 7))))  # one head of 4 dimensions, 4 units
    kept = [32, 96, 32, 32, 32, 24]
    assert thin.params == sum(kept) + others - 12 - 12  # 12 fewer qkv biases, 12 fewer fc1 biases
    assert thin.flops == 2 * (32 * 4 + (96 + 32 + 32 + 32) * 5 + 24 + attention // 2)
    assert thin.node_sparsity == pytest.approx(13 / 18)
    assert thin.weight_sparsity == pytest.approx(1 - sum(kept) / sum(weights))


def test_weight_mask_cost_counts_dead_heads_and_units():
    net = parent((1, 4, 4), 3, dim=8, depth=1, heads=2, mlp_ratio=2.0)
    layers = [torch.ones(s, dtype=torch.bool) for s in net.weight_shapes]
    layers[1][2 * 8 + 4 : 2 * 8 + 8] = False  # head 1's v rows: it outputs its v bias alone, dead
    layers[1][0:4] = False  # head 0's q rows: uniform attention, alive
    layers[3][5] = False  # unit 5 has no incoming weight: dead
    layers[4][:, 9] = False  # unit 9 feeds nothing: dead
    cost = net.cost(WeightMask(tuple(layers)))
    assert cost.node_sparsity == pytest.approx(3 / 18)
    kept = [32, 192 - 64, 64, 128 - 8, 128 - 8, 24]
    assert cost.flops == 2 * (32 * 4 + (kept[1] + kept[2] + kept[3] + kept[4]) * 5 + 24 + 2 * 25 * 8)
    assert cost.weight_sparsity == pytest.approx(80 / 568)


def test_structured_scores_sum_a_heads_q_k_v_rows_and_a_units_first_layer_row():
    net = parent((1, 8, 8), **SMALL)
    params = randomized(net, 0)
    (scores,) = unit_scores(net, l1_norm(net, stacked([params])))
    for block in range(net.depth):
        qkv, fc1 = params[1 + 4 * block][0], params[3 + 4 * block][0]
        per_row = qkv.abs().sum(1).view(3, net.heads, net.head_dim)
        torch.testing.assert_close(scores[2 * block], per_row.sum((0, 2)))
        torch.testing.assert_close(scores[2 * block + 1], fc1.abs().sum(1))


@pytest.mark.parametrize("settings, message", [
    ({"dim": 30, "heads": 4}, "parent: dim must be a multiple of heads (each head has dim / heads dimensions), got "
                              "dim = 30, heads = 4"),
    ({"depth": 0}, "parent.depth: Input should be greater than or equal to 1, got 0"),
    ({"pool": "max"}, "parent.pool: allowed: 'cls' or 'mean', got 'max'"),
    ({"dim": "64"}, "parent.dim: Input should be a valid integer, got '64'"),
    ({"mlp_ratio": 0.001}, "parent: dim * mlp_ratio must round to at least 1 hidden unit, got dim = 64, "
                           "mlp_ratio = 0.001"),
    ({"width": 64}, "parent.width: unknown key for parent kind 'vit'; its own settings are patch, dim, depth, heads, "
                    "mlp_ratio, pool"),
])
def test_bad_settings_are_refused_in_one_line_before_the_data_loads(settings, message):
    config = config_from_dict({"parent": {"kind": "vit", **settings}})
    with pytest.raises(SparsearchError) as info:
        check_settings(config, [])
    assert str(info.value) == message


def test_other_refusals_name_the_setting():
    with pytest.raises(SparsearchError, match=r"^parent.patch: unknown key for parent kind 'mlp'; check the spelling"):
        check_settings(config_from_dict({"parent": {"patch": 2}}), [])
    with pytest.raises(SparsearchError, match=r"^search.sparsities: 0.9 removes all 4 attention heads of vit's "
                                              r"block 1; use a lower sparsity or more parent.heads$"):
        check_settings(config_from_dict({"parent": {"kind": "vit"}}), [0.5, 0.9])
    with pytest.raises(SparsearchError, match=r"^parent.patch: 3 does not divide the data's examples of shape "
                                              r"\[1, 8, 8\] into whole patches; use a divisor of 8, 8$"):
        parent(patch=3)
    with pytest.raises(SparsearchError, match=r"vit' reads signals \[channels, length\] or images"):
        parent((1, 1, 8, 8))


def test_config_check_prints_the_kinds_own_settings_in_full_and_they_run(tmp_path):
    from typer.testing import CliRunner

    from sparsearch.cli import app

    (tmp_path / "c.toml").write_text('[parent]\nkind = "vit"\ndim = 32\npool = "mean"\n[search]\nsparsities = [0.5]\n')
    result = CliRunner().invoke(app, ["config", "--check", str(tmp_path / "c.toml")])
    assert result.exit_code == 0, result.output
    assert ("# the parent kind's own settings\ndim = 32\ndepth = 2\nheads = 4\nmlp_ratio = 2.0\npool = \"mean\"\n"
            in result.stdout)
    (tmp_path / "c.toml").write_text(result.stdout)
    printed = sparsearch.config.load_config(tmp_path / "c.toml")
    check_settings(printed, [0.5])
    assert printed.parent.model_extra == {"dim": 32, "depth": 2, "heads": 4, "mlp_ratio": 2.0, "pool": "mean"}
    assert Config().parent.model_extra == {}


WEIGHT_ARMS = ["dense", "random", "magnitude", "lottery", "lottery_reinit", "lottery_random", "gmp", "snip", "grasp",
               "synflow", "shuffle"]
NODE_ARMS = ["dense", "random", "random_search", "l1_norm", "taylor", "fpgm"]


@pytest.mark.slow
@pytest.mark.parametrize("space, arms", [("weight", WEIGHT_ARMS), ("node", NODE_ARMS)])
def test_end_to_end_runs_of_weight_and_node_arms(tmp_path, blobs, space, arms):
    config = {"experiment": {"name": f"vit-{space}", "seeds": 2}, "parent": {"kind": "vit", "dim": 16, "depth": 1},
              "train": {"epochs": 2, "batch_size": 32, "optimizer": "adam", "lr": 0.005}, "engine": {"threads": 1},
              "store": {"save_weights": True}, "search": {"space": space, "sparsities": [0.5], "arms": arms},
              "arms": {"random_search": {"candidates": 3}, "lottery": {"prune_rate": 0.5},
                       "synflow": {"iterations": 5}}}
    study = sparsearch.run({**config, "arms": {k: v for k, v in config["arms"].items() if k in arms}},
                           store=tmp_path / "s.db", data=blobs)
    trials = study.trials()
    assert set(trials.arm) == set(arms) and (trials.status == "ok").all() and len(trials) == 2 * len(arms)
    assert np.isfinite(trials.test_acc).all()
    column = "weight_sparsity" if space == "weight" else "node_sparsity"
    assert trials[trials.arm != "dense"][column].between(0.45, 0.55).all()
    for row in trials.itertuples():
        net = study.network(row.trial_key)
        with torch.no_grad():
            accuracy = (net(blobs.x_test).argmax(1) == blobs.y_test).float().mean().item()
        assert accuracy == pytest.approx(row.test_acc, abs=1e-6), row.arm
    index = study.report(tmp_path / "report")
    assert index.exists() and "vit" in index.read_text()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_cuda_the_forward_compaction_and_scores_equal_the_cpus():
    net = parent((1, 8, 8), **SMALL)
    params = randomized(net, 0)
    masks = [sample_mask(net.widths[1:-1], 0.5, torch.Generator().manual_seed(1))]
    x = torch.randn(5, 64, generator=torch.Generator().manual_seed(2))
    on_gpu = [tuple(t.cuda() for t in layer) for layer in params]
    thin = net.compact(params, masks)
    assert_close_across_kernels(net.forward(net.compact(on_gpu, masks), x.cuda()).cpu(), net.forward(thin, x))
    (expected,), (got,) = (unit_scores(net, l1_norm(net, stacked([p]))) for p in (params, on_gpu))
    for a, b in zip(got, expected):
        assert_close_across_kernels(a.cpu(), b)
