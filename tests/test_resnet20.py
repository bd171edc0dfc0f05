"""ResNet-20: PyTorch's init, the population forward and training against an `nn.Module` alone
(train and eval modes), calibration by Algorithm 2, channel compaction against masking with
tied residual groups, elastic depth (the first blocks of each stage) against the full network
with the dropped blocks silenced, costs by hand, and end-to-end runs in both spaces."""

import math
import re

import numpy as np
import pytest
import torch
from conftest import assert_close_across_kernels, assert_tested_once_as_every_epoch, fresh_like, train_alone
from torch import nn

import sparsearch
from sparsearch.config import ParentConfig, TrainConfig, config_from_dict
from sparsearch.data import Dataset
from sparsearch.engine.trainer import Trainer, train_population
from sparsearch.errors import SparsearchError
from sparsearch.nets import build_parent, check_settings, from_spec, with_kind_settings
from sparsearch.nets.base import cloned, rows, stacked
from sparsearch.spaces.node import NodeMask, full_mask, sample_mask
from sparsearch.spaces.weight import WeightMask

SHAPE = (3, 8, 8)
SMALL = [4, 8, 16]


def parent(shape=SHAPE, classes=10, channels=SMALL, blocks=None):
    depth = {} if blocks is None else {"blocks": list(blocks)}
    return build_parent(ParentConfig(kind="resnet20", channels=channels, **depth), shape, classes)


def blob_arrays(n=300, seed=0):
    """Small learnable 3x8x8 images: the class is the quadrant holding a bright blob in channel class % 3."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 4
    x = torch.randn(n, 3, 8, 8, generator=gen) * 0.5
    for k in range(4):
        r, c = divmod(k, 2)
        x[y == k, k % 3, 4 * r : 4 * r + 4, 4 * c : 4 * c + 4] += 1.5
    return x.numpy(), y.numpy()


@pytest.fixture(autouse=True)
def _threads():
    """One thread (overrides conftest's two): these convolutions are tiny, and on a busy 2-core
    machine two OpenMP threads made them ~100x slower (measured: 24 s against 0.2 s)."""
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(2)


@pytest.fixture(scope="module")
def images():
    return Dataset.from_arrays(*blob_arrays(), name="blobs3")


def _perturbed(net, seed):
    """A network of `net` at init with random BatchNorm affine parameters and statistics."""
    gen = torch.Generator().manual_seed(100 + seed)
    params = net.init(seed)
    out = []
    for layer in params[:-1]:
        w, *_ = layer
        c = w.shape[0]
        out.append((w, 1 + 0.3 * torch.randn(c, generator=gen), 0.2 * torch.randn(c, generator=gen),
                    0.2 * torch.randn(c, generator=gen), 0.5 + torch.rand(c, generator=gen)))
    return [*out, params[-1]]


def test_init_equals_pytorch_default_and_the_published_size():
    net = parent()
    module = net.module(net.init(1))
    torch.manual_seed(1)
    built = fresh_like(module)
    for (name, a), b in zip(module.state_dict().items(), built.state_dict().values()):
        assert torch.equal(a, b), name
    for name, t in module.state_dict().items():
        if name.endswith(("bn1.weight", "bn2.weight", "running_var")):
            assert torch.equal(t, torch.ones_like(t)), name
        if name.endswith(("bn1.bias", "bn2.bias", "running_mean")):
            assert torch.equal(t, torch.zeros_like(t)), name
    assert net.weight_shapes == tuple(tuple(layer[0].shape) for layer in net.init(0))
    published = build_parent(ParentConfig(kind="resnet20"), (3, 32, 32), 10)
    assert len(published.weight_shapes) == 20
    dense = published.cost(full_mask(published.widths[1:-1]))
    assert dense.params == 269_722 == sum(p.numel() for p in published.module(published.init(0)).parameters())
    assert round(dense.flops / 2e6, 2) == 40.55  # 40.55M multiply-adds


@pytest.mark.parametrize("blocks", [None, (1, 2, 3)])
@pytest.mark.parametrize("train", [False, True])
def test_population_forward_equals_the_module_alone(train, blocks):
    net = parent(blocks=blocks)
    networks = [_perturbed(net, s) for s in (0, 1, 2)]
    population = stacked(networks)
    x = torch.randn(6, math.prod(SHAPE), generator=torch.Generator().manual_seed(3))
    shared = net.forward(population, x, train=train)
    own = net.forward(population, x.expand(3, *x.shape), train=train)
    for p, params in enumerate(networks):
        module = net.module(params).train(train)
        expected = module(x)
        assert_close_across_kernels(shared[p], expected)
        assert_close_across_kernels(own[p], expected)
        assert net.state_dict(params).keys() <= module.state_dict().keys()
        for a, b in zip(net.from_state_dict(net.state_dict(params)), params):
            assert all(torch.equal(s, t) for s, t in zip(a, b))


def test_calibrate_is_algorithm_2_over_batches_of_the_training_mode_network():
    net = parent()
    params = _perturbed(net, 0)
    x = torch.randn(600, math.prod(SHAPE), generator=torch.Generator().manual_seed(4))
    population = stacked([params, _perturbed(net, 1)])
    net.calibrate(population, x)
    # by hand with the module: batches of 256 in order (the last 88 examples left out)
    module = net.module(params).train()
    inputs = {}
    norms = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
    hooks = [m.register_forward_pre_hook(lambda m, a: inputs.setdefault(m, []).append(a[0])) for m in norms]
    with torch.no_grad():
        module(x[:256]), module(x[256:512])
    for h in hooks:
        h.remove()
    for layer, m in zip(population[:-1], norms):
        batch_means = torch.stack([a.mean((0, 2, 3)) for a in inputs[m]])
        batch_vars = torch.stack([a.var((0, 2, 3), unbiased=False) for a in inputs[m]])
        values = inputs[m][0].numel() // inputs[m][0].shape[1]
        assert_close_across_kernels(layer[3][0], batch_means.mean(0), scale=batch_vars.max().sqrt())
        torch.testing.assert_close(layer[4][0], values / (values - 1) * batch_vars.mean(0), rtol=1e-5, atol=1e-5)
    assert not torch.equal(population[0][3][0], population[0][3][1])  # each network its own statistics


def test_a_population_trains_as_modules_alone_and_evaluates_with_calibrated_statistics(images):
    net = parent(images.shape, images.n_classes)
    recipe = TrainConfig(epochs=2, batch_size=32, lr=0.05, weight_decay=1e-4)
    seeds = [0, 1]
    curves = train_population(net, stacked([net.init(s) for s in seeds]), seeds, images, recipe)
    for p, seed in enumerate(seeds):
        model = net.module(net.init(seed)).train()
        train_alone(model, seed, images, recipe)
        final = rows(curves.final, p)
        got = net.state_dict(final)
        for name, expected in model.named_parameters():
            assert_close_across_kernels(got[name], expected.detach(), msg=name)
        # eval: the module with statistics set by calibrate, against the population's calibrated network
        own = stacked([net.from_state_dict({k: v.detach().clone() for k, v in model.state_dict().items()})])
        net.calibrate(own, images.x_train)
        model.load_state_dict(net.state_dict(rows(own, 0)), strict=False)
        for name in got:
            if name.endswith("running_var"):  # a running mean averages centred values: its scale is their spread
                mean = name.replace("var", "mean")
                assert_close_across_kernels(got[name], model.state_dict()[name], msg=name)
                assert_close_across_kernels(got[mean], model.state_dict()[mean], msg=mean, scale=got[name].max().sqrt())
        expected = model.eval()(images.x_test)
        assert_close_across_kernels(net.forward(stacked([final]), images.x_test)[0], expected)
    assert (curves.val_acc[:, -1] > 0.4).all()  # it learns


def test_testing_once_evaluates_the_best_weights_with_their_calibrated_statistics(images):
    net = parent(images.shape, images.n_classes)
    seeds = [0, 1, 2, 3]
    trainer = Trainer(net, images, TrainConfig(epochs=6, batch_size=32, lr=0.5))
    assert_tested_once_as_every_epoch(trainer, stacked([net.init(s) for s in seeds]), seeds)


def _stream_groups(net):
    """The index of each stage's stream group among the node groups (its blocks' follow it)."""
    return [sum(1 + n for n in net.blocks[:s]) for s in range(3)]


def _masked(net, params, mask):
    """The parent with every dropped channel zeroed: its filters, gammas and betas in every
    layer that writes it (a stream channel: the stem and every block's second convolution of
    its stage and the later ones, at the same position)."""
    layers = cloned(params)
    stream_start = [0, *net.stages[:-1]]
    blocks = net.block_layers()
    for s, g in enumerate(_stream_groups(net)):
        stream = mask.keep[g]
        for b, (first, _) in enumerate(blocks[s]):
            _zero_rows(layers[first], net.stages[s], mask.keep[g + 1 + b])
        for later in range(s, 3):
            writers = [second for _, second in blocks[later]] + ([0] if later == 0 else [])
            for at in writers:
                _zero_rows(layers[at], net.stages[later], [stream_start[s] + k for k in stream],
                           range(stream_start[s], net.stages[s]))
    return layers


def _zero_rows(layer, width, kept, span=None):
    dropped = torch.zeros(width, dtype=torch.bool)
    dropped[list(span if span is not None else range(width))] = True
    dropped[list(kept)] = False
    for t in layer[:3]:  # weight, gamma, beta
        t[dropped] = 0


@pytest.mark.parametrize("sparsity, blocks", [(0.5, None), (0.25, None), (0.5, (1, 2, 3)), (0.25, (2, 1, 1))])
def test_compaction_is_the_same_function_as_masking_the_channels(sparsity, blocks):
    net = parent(blocks=blocks)
    params = _perturbed(net, 0)
    gen = torch.Generator().manual_seed(1)
    mask = sample_mask(net.widths[1:-1], sparsity, gen)
    thin = net.compact(params, [mask])
    masked = stacked([_masked(net, params, mask)])
    x = torch.randn(40, math.prod(SHAPE), generator=gen)
    assert_close_across_kernels(net.forward(thin, x, train=True), net.forward(masked, x, train=True))
    net.calibrate(thin, x)
    net.calibrate(masked, x)
    assert_close_across_kernels(net.forward(thin, x), net.forward(masked, x))
    g = _stream_groups(net)
    streams = [sum(len(mask.keep[k]) for k in g[: s + 1]) for s in range(3)]
    assert thin[0][0].shape[1:3] == (streams[0], 3)
    first = net.block_layers()[1][0][0]  # stage 2's first conv reads stage 1's stream
    assert thin[first][0].shape[1:3] == (len(mask.keep[g[1] + 1]), streams[0])
    assert thin[-1][0].shape[2:] == (streams[2],)
    thin_module = net.module(rows(thin, 0))
    assert_close_across_kernels(thin_module.eval()(x), net.forward(thin, x)[0])
    assert_close_across_kernels(thin_module.train()(x), net.forward(thin, x, train=True)[0])
    assert net.cost(mask).params == sum(p.numel() for p in thin_module.parameters())


def test_unit_scores_sum_every_writer_of_a_tied_channel():
    net = parent()
    scores = [torch.ones(s) for s in net.weight_shapes]
    units = net.unit_scores(scores)
    assert [len(u) for u in units] == list(net.widths[1:-1])
    # stream channel of stage 1: the stem (3 * 9) and 9 second convolutions (4, 8, 16 inputs of 9)
    assert units[0].tolist() == [27 + 3 * 36 + 3 * 72 + 3 * 144] * 4
    assert units[4].tolist() == [3 * 72 + 3 * 144] * 4 and units[8].tolist() == [3 * 144] * 8
    assert units[1].tolist() == [36] * 4 and units[5].tolist() == [36] * 8  # stage 2's first block reads 4
    assert units[6].tolist() == [72] * 8


def test_costs_by_hand_and_channels_setting():
    net = parent((3, 4, 4), 10, [2, 4, 8])  # feature maps 4x4, 2x2, 1x1
    assert net.widths == (48, 2, 2, 2, 2, 2, 4, 4, 4, 4, 8, 8, 8, 10)
    assert net.stages == (2, 4, 8) and net.spec()["settings"] == {"channels": [2, 4, 8]}
    # weights: stem 54; stage 1: 6 x 36; stage 2: 72 + 5 x 144; stage 3: 288 + 5 x 576; classifier 80
    weights = 54 + 216 + 792 + 3168 + 80
    dense = net.cost(full_mask(net.widths[1:-1]))
    assert dense.params == weights + 2 * (2 + 6 * 2 + 6 * 4 + 6 * 8) + 10
    assert dense.flops == 2 * (54 * 16 + 216 * 16 + 792 * 4 + 3168 * 1 + 80)
    assert dense.node_sparsity == 0 and dense.weight_sparsity == 0
    # half of every group: streams 1, 2, 4; inner 1, 2, 4
    half = NodeMask(((0,), (1,), (1,), (0,), (1,), (0, 1), (2, 3), (0, 3), (0, 3), (0, 1, 2, 3), (1, 2, 3, 4),
                     (4, 5, 6, 7)))
    # stem 27; stage 1: 6 x 9; stage 2: 18 + 5 x 36; stage 3: 72 + 5 x 144; classifier 40
    thin = net.cost(half)
    assert thin.params == 1111 + 2 * (1 + 6 * 1 + 6 * 2 + 6 * 4) + 10
    assert thin.flops == 2 * (27 * 16 + 54 * 16 + 198 * 4 + 792 + 40)
    assert thin.node_sparsity == 0.5 and thin.weight_sparsity == pytest.approx(1 - 1111 / weights)
    # a weight mask: stream channel 1 keeps its stem filter (alive) until every writer loses it
    layers = [torch.ones(s, dtype=torch.bool) for s in net.weight_shapes]
    layers[0][1] = False
    assert net.cost(WeightMask(tuple(layers))).node_sparsity == 0
    for at in range(2, 20, 2):
        layers[at][1] = False
    layers[4][:, 0] = False  # stage 1 block 2's inner channel 0 feeds nothing (9 more weights)
    cost = net.cost(WeightMask(tuple(layers)))
    assert cost.node_sparsity == pytest.approx(2 / 50)
    removed = 27 + 3 * 18 + 9 + 3 * 36 + 3 * 72
    assert cost.weight_sparsity == pytest.approx(removed / weights)
    assert cost.params == weights - removed + 2 * 86 + 10
    assert cost.flops == 2 * (27 * 16 + (216 - 3 * 18 - 9) * 16 + (792 - 3 * 36) * 4 + 3168 - 3 * 72 + 80)
    assert from_spec(net.spec()) == net
    # one block per stage: stem 54; stage 1: 2 x 36; stage 2: 72 + 144; stage 3: 288 + 576; classifier 80
    shallow = net.with_blocks((1, 1, 1))
    assert shallow.widths == (48, 2, 2, 2, 4, 4, 8, 10)
    dense = shallow.cost(full_mask(shallow.widths[1:-1]))
    assert dense.params == 1286 + 2 * (2 + 2 * 2 + 2 * 4 + 2 * 8) + 10
    assert dense.flops == 2 * (54 * 16 + 72 * 16 + 216 * 4 + 864 * 1 + 80)
    assert dense.params == sum(p.numel() for p in shallow.module(shallow.init(0)).parameters())


def _silenced(net, params, blocks):
    """The full-depth network with the blocks past the first `blocks[s]` of each stage made the
    identity: the BatchNorm gamma and beta of their second convolution zeroed."""
    layers = cloned(params)
    for stage, n in zip(net.block_layers(), blocks):
        for _, second in stage[n:]:
            w, gamma, beta, mean, var = layers[second]
            layers[second] = (w, torch.zeros_like(gamma), torch.zeros_like(beta), mean, var)
    return layers


@pytest.mark.parametrize("blocks", [(1, 2, 3), (1, 1, 1), (3, 1, 2)])
def test_keeping_the_first_blocks_is_the_full_network_with_the_others_silenced(blocks):
    net = parent()
    params = stacked([_perturbed(net, s) for s in (0, 1)])
    shallow = net.with_blocks(blocks)
    kept = net.keep_blocks(params, blocks)
    assert shallow.blocks == blocks and shallow.weight_shapes == tuple(tuple(layer[0].shape[1:]) for layer in kept)
    assert len(kept) == 2 + 2 * sum(blocks) and kept[0] is params[0] and kept[-1] is params[-1]
    kept_layers = [at for stage, n in zip(net.block_layers(), blocks) for pair in stage[:n] for at in pair]
    assert all(a is params[at] for a, at in zip(kept[1:-1], kept_layers))  # the very tensors: gradients reach them
    unstacked = net.keep_blocks(rows(params, 1), blocks)
    assert all(torch.equal(a, b) for layer, other in zip(unstacked, rows(kept, 1)) for a, b in zip(layer, other))
    silenced = _silenced(net, params, blocks)
    x = torch.randn(24, math.prod(SHAPE), generator=torch.Generator().manual_seed(5))
    for train in (True, False):
        torch.testing.assert_close(shallow.forward(kept, x, train=train), net.forward(silenced, x, train=train),
                                   rtol=0, atol=1e-5)
    kept = cloned(kept)
    shallow.calibrate(kept, x)
    net.calibrate(silenced, x)
    torch.testing.assert_close(shallow.forward(kept, x), net.forward(silenced, x), rtol=0, atol=1e-5)
    module = shallow.module(rows(kept, 0))
    assert_close_across_kernels(module.eval()(x), shallow.forward(kept, x)[0])
    assert net.with_blocks(net.blocks) == net and net.keep_blocks(params, net.blocks) == params


def test_depth_setting_keeps_default_specs_and_names_other_depths():
    default, spelled = parent(), parent(blocks=(3, 3, 3))
    assert default == spelled and default.spec() == spelled.spec()
    assert default.spec() == {"kind": "resnet20", "input": list(SHAPE), "classes": 10, "settings": {"channels": SMALL}}
    assert len(default.weight_shapes) == 20 and default.weight_shapes[7] == (8, 4, 3, 3)
    shallow = parent(blocks=(1, 2, 3))
    assert shallow.spec()["settings"] == {"channels": SMALL, "blocks": [1, 2, 3]} == default.with_blocks(
        (1, 2, 3)).spec()["settings"]
    assert from_spec(shallow.spec()) == shallow and from_spec(shallow.spec()) == default.with_blocks((1, 2, 3))
    assert shallow.widths == (192, 4, 4, 4, 8, 8, 8, 16, 16, 16, 10)  # S1 and 1 inner group, S2 and 2, S3 and 3
    assert list(shallow.module(shallow.init(0)).state_dict())[:7] == [
        "conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked",
        "layer1.0.conv1.weight"]
    assert [name for name in shallow.state_dict(shallow.init(0)) if name.endswith("conv2.weight")] == [
        "layer1.0.conv2.weight", "layer2.0.conv2.weight", "layer2.1.conv2.weight", "layer3.0.conv2.weight",
        "layer3.1.conv2.weight", "layer3.2.conv2.weight"]
    # `config --check` spells the setting out; the printed config builds the same parent
    full = with_kind_settings(config_from_dict({"parent": {"kind": "resnet20", "channels": SMALL}}))
    assert full.parent.model_extra == {"blocks": [3, 3, 3]}
    assert build_parent(full.parent, SHAPE, 10).spec() == default.spec()


def test_resnet20_refuses_what_it_cannot_build():
    with pytest.raises(SparsearchError, match=r"parent.channels: resnet20 takes 3 widths .* got \[8\]"):
        parent(channels=[8])
    with pytest.raises(SparsearchError, match=r"must increase"):
        parent(channels=[8, 8, 16])
    with pytest.raises(SparsearchError, match=r"resnet20.*reads images"):
        parent(shape=(64,))
    for blocks in ([3, 0, 3], [3, 3]):
        with pytest.raises(SparsearchError, match=r"^parent.blocks: resnet20 takes 3 counts of basic blocks \(one per "
                           rf"stage\), each at least 1, got {re.escape(str(blocks))}$"):
            parent(blocks=blocks)
    with pytest.raises(SparsearchError, match=r"^parent.blocks: resnet20 takes 3 counts .* got \[1, 0, 1\]$"):
        check_settings(config_from_dict({"parent": {"kind": "resnet20", "blocks": [1, 0, 1]}}), [0.5])
    shallow = parent(blocks=(2, 2, 2))
    for blocks in ((3, 2, 2), (2, 0, 2), (2, 2)):
        got = re.escape(str(list(blocks)))
        with pytest.raises(SparsearchError, match=r"^blocks: a sub-network of this resnet20 keeps 1 to \[2, 2, 2\] "
                           rf"blocks per stage \(a count for each of its 3 stages\), got {got}$"):
            shallow.with_blocks(blocks)


@pytest.mark.parametrize("space, arms", [("weight", ["dense", "random", "magnitude", "snip", "synflow"]),
                                         ("node", ["dense", "random", "random_search", "slimming", "taylor",
                                                   "successive_halving"])])
def test_end_to_end_runs(tmp_path, space, arms):
    data = Dataset.from_arrays(*blob_arrays(200), name="blobs3")
    config = {"experiment": {"name": f"resnet-{space}", "seeds": 2}, "parent": {"kind": "resnet20", "channels": SMALL},
              "train": {"epochs": 1, "batch_size": 32}, "engine": {"threads": 1}, "store": {"save_weights": True},
              "search": {"space": space, "sparsities": [0.5], "arms": arms}}
    if "random_search" in arms:
        config["arms"] = {"random_search": {"candidates": 3}, "successive_halving": {"candidates": 3}}
    study = sparsearch.run(config, store=tmp_path / "s.db", data=data)
    trials = study.trials()
    assert set(trials.arm) == set(arms) and (trials.status == "ok").all()
    assert len(trials) == 2 * len(arms)
    assert np.isfinite(trials.test_acc).all()
    pruned = trials[trials.arm != "dense"]
    column = "weight_sparsity" if space == "weight" else "node_sparsity"
    assert (pruned[column].round(2) == 0.5).all()
    for row in trials.itertuples():  # networks back as modules, BatchNorm statistics calibrated at their epoch
        for which, stored in (("best", row.test_acc), ("final", row.final_test_acc)):
            net = study.network(row.trial_key, which)
            with torch.no_grad():
                accuracy = (net(data.x_test).argmax(1) == data.y_test).float().mean().item()
            assert accuracy == pytest.approx(stored, abs=1e-6), (row.arm, which)
