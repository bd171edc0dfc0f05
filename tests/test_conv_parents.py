"""Convolutional parents: PyTorch's init, the population forward and training against
`nn.Module`s alone, channel compaction against masking, costs and ERK by hand."""

import dataclasses
import math

import pytest
import torch
from conftest import assert_close_across_kernels, fresh_like, train_alone

from sparsearch.config import ParentConfig, TrainConfig
from sparsearch.data import Dataset
from sparsearch.engine.trainer import train_population
from sparsearch.errors import SparsearchError
from sparsearch.nets import build_parent, from_spec
from sparsearch.nets.base import rows, stacked
from sparsearch.pruning import erk_densities, kept_per_layer
from sparsearch.spaces.node import NodeMask, sample_mask
from sparsearch.spaces.weight import WeightMask

KINDS = [("cnn1d", (1, 40)), ("lenet5", (1, 8, 8)), ("lenet5", (1, 28, 28)), ("conv2", (3, 8, 8)),
         ("conv4", (1, 8, 8)), ("conv6", (1, 8, 8))]


def parent(kind, shape, classes=10, **settings):
    return build_parent(ParentConfig(kind=kind, **settings), shape, classes)


@pytest.fixture(scope="module")
def images():
    """Small learnable 1x8x8 images: the class is the quadrant holding a bright blob."""
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(240) % 4
    x = torch.randn(240, 1, 8, 8, generator=gen) * 0.5
    for k in range(4):
        r, c = divmod(k, 2)
        x[y == k, 0, 4 * r : 4 * r + 4, 4 * c : 4 * c + 4] += 1.5
    return Dataset.from_arrays(x.numpy(), y.numpy(), name="blobs")


@pytest.mark.parametrize("kind, shape", KINDS)
def test_init_equals_pytorch_default_and_population_forward_equals_the_module(kind, shape):
    net = parent(kind, shape)
    networks = [net.init(s) for s in (0, 1, 2)]
    module = net.module(net.init(1))
    torch.manual_seed(1)
    built = fresh_like(module)
    for (name, a), b in zip(module.state_dict().items(), built.state_dict().values()):
        assert torch.equal(a, b), name
    x = torch.randn(5, math.prod(shape), generator=torch.Generator().manual_seed(3))
    population = stacked(networks)
    for layout in ("im2col", "grouped"):  # both population forms of nets/conv.py
        laid_out = dataclasses.replace(net, layout=layout)
        shared = laid_out.forward(population, x)
        own = laid_out.forward(population, x.expand(3, *x.shape))
        for p, params in enumerate(networks):
            expected = net.module(params)(x)
            assert_close_across_kernels(shared[p], expected)
            assert_close_across_kernels(own[p], expected)
    assert net.weight_shapes == tuple(tuple(layer[0].shape) for layer in networks[0])


def test_a_conv_population_trains_as_nn_modules_alone(images):
    net = parent("lenet5", images.shape, images.n_classes)
    recipe = TrainConfig(epochs=2, batch_size=32, lr=0.05)
    seeds = [0, 1, 2]
    curves = train_population(net, stacked([net.init(s) for s in seeds]), seeds, images, recipe)
    for p, seed in enumerate(seeds):
        model = net.module(net.init(seed))
        train_alone(model, seed, images, recipe)
        for (name, expected), got in zip(model.state_dict().items(), net.state_dict(rows(curves.final, p)).values()):
            assert_close_across_kernels(got, expected, msg=name)


@pytest.mark.parametrize("kind, shape", KINDS)
def test_compaction_is_the_same_function_as_masking_the_channels(kind, shape):
    net = parent(kind, shape)
    params = net.init(0)
    gen = torch.Generator().manual_seed(1)
    mask = sample_mask(net.widths[1:-1], 0.5, gen)
    thin = net.compact(params, [mask])
    masked = [tuple(t.clone() for t in layer) for layer in params]
    for group, keep in enumerate(mask.keep):  # zero every dropped channel's filter and bias
        dropped = torch.ones(net.widths[1 + group], dtype=torch.bool)
        dropped[list(keep)] = False
        masked[group][0][dropped] = 0
        masked[group][1][dropped] = 0
    x = torch.randn(7, math.prod(shape), generator=gen)
    assert_close_across_kernels(net.forward(thin, x)[0], net.forward(stacked([masked]), x)[0])
    assert [layer[0].shape[1] for layer in thin[:-1]] == [len(k) for k in mask.keep]
    thin_module = net.module(rows(thin, 0))
    assert_close_across_kernels(thin_module(x), net.forward(thin, x)[0])


def test_cnn1d_shapes_costs_and_spec_by_hand():
    net = parent("cnn1d", (1, 40))
    # lengths 40 -> 19 -> 10 -> 5 (kernel 5 then 3, stride 2, padding 1): the paper's 125 features
    assert net.weight_shapes == ((25, 1, 5), (25, 25, 3), (25, 25, 3), (10, 125))
    assert net.widths == (40, 25, 25, 25, 10)
    dense = net.cost(NodeMask(tuple(tuple(range(25)) for _ in range(3))))
    weights = 125 + 1875 + 1875 + 1250
    assert dense.params == weights + 25 * 3 + 10
    assert dense.flops == 2 * (125 * 19 + 1875 * 10 + 1875 * 5 + 1250)
    assert dense.node_sparsity == 0 and dense.weight_sparsity == 0
    # keep 5 channels in each conv: weights 25 + 75 + 75 + 10 x 25
    thin = net.cost(NodeMask((tuple(range(5)),) * 3))
    assert thin.params == 25 + 75 + 75 + 250 + 15 + 10
    assert thin.node_sparsity == pytest.approx(60 / 75)
    assert thin.weight_sparsity == pytest.approx(1 - 425 / weights)
    assert from_spec(net.spec()) == net


def test_weight_mask_cost_counts_dead_channels_and_kept_flops():
    net = parent("cnn1d", (1, 40))
    layers = [torch.ones(s, dtype=torch.bool) for s in net.weight_shapes]
    layers[0][3] = False  # channel 3 of conv1 has no incoming weight: dead
    layers[3][:, 5 * 7 : 5 * 8] = False  # channel 7 of conv3 feeds nothing: dead
    cost = net.cost(WeightMask(tuple(layers)))
    assert cost.node_sparsity == pytest.approx(2 / 75)
    kept = [125 - 5, 1875, 1875, 1250 - 50]
    assert cost.flops == 2 * (kept[0] * 19 + kept[1] * 10 + kept[2] * 5 + kept[3])
    assert cost.weight_sparsity == pytest.approx(55 / 5125)


def test_kernel_aware_erk_by_hand():
    # conv [4, 2, 3, 3] and dense [10, 8]: raw = (4+2+3+3)/72 = 1/6 and (10+8)/80 = 9/40;
    # at density 0.5 of 152 weights: eps = 76 / (72/6 + 80*9/40) = 76 / 30
    shapes = [(4, 2, 3, 3), (10, 8)]
    densities = erk_densities(shapes, 0.5)
    assert densities == pytest.approx([76 / 30 / 6, 76 / 30 * 9 / 40])
    assert kept_per_layer(shapes, 0.5, "erk") == [round(72 * 76 / 180), round(80 * 76 / 30 * 9 / 40)]


def test_conv_parents_refuse_examples_they_cannot_read():
    with pytest.raises(SparsearchError, match=r"lenet5.*reads images \[channels, height, width\].*\[64\]"):
        parent("lenet5", (64,))
    with pytest.raises(SparsearchError, match=r"too small"):
        parent("conv6", (1, 4, 4))
    with pytest.raises(SparsearchError, match=r"parent.channels: cnn1d takes 3 widths .* got \[8\]"):
        parent("cnn1d", (1, 40), channels=[8])


WEIGHT_ARMS = ["dense", "random", "magnitude", "lottery", "lottery_reinit", "lottery_random", "gmp", "snip",
               "grasp", "synflow", "shuffle"]


@pytest.mark.slow
@pytest.mark.parametrize("space, arms", [("weight", WEIGHT_ARMS), ("node", ["dense", "random", "random_search",
                                                                            "magnitude", "snip"])])
def test_lenet5_end_to_end_with_networks_back_and_a_report(tmp_path, images, space, arms):
    import sparsearch

    config = {"experiment": {"name": f"lenet-{space}", "seeds": 2}, "parent": {"kind": "lenet5"},
              "train": {"epochs": 3, "batch_size": 16, "optimizer": "adam", "lr": 0.01}, "store": {"save_weights": True},
              "search": {"space": space, "sparsities": [0.5], "arms": arms},
              "arms": {"random_search": {"candidates": 4}, "lottery": {"prune_rate": 0.5},
                       "synflow": {"iterations": 5}}}
    if space == "node":
        del config["arms"]["lottery"], config["arms"]["synflow"]
    study = sparsearch.run(config, store=tmp_path / "s.db", data=images)
    trials = study.trials()
    assert set(trials.arm) == set(arms) and (trials.status == "ok").all() and len(trials) == 2 * len(arms)
    sparse = trials[trials.arm != "dense"]
    column = "weight_sparsity" if space == "weight" else "node_sparsity"
    assert sparse[column].between(0.45, 0.55).all()
    assert trials.final_test_acc.mean() > 0.3  # four classes: chance is 0.25
    for row in trials.itertuples():
        for which, stored in (("best", row.test_acc), ("final", row.final_test_acc)):
            net = study.network(row.trial_key, which)
            with torch.no_grad():
                accuracy = (net(images.x_test).argmax(1) == images.y_test).float().mean().item()
            assert accuracy == pytest.approx(stored, abs=1e-6), (row.arm, which)
    index = study.report(tmp_path / "report")
    assert index.exists() and "lenet5" in index.read_text()


def test_probes_that_read_mlp_activations_are_refused_for_conv_parents_before_the_store(tmp_path):
    import sparsearch

    config = {"experiment": {"name": "x"}, "data": {"name": "mnist1d"}, "parent": {"kind": "cnn1d"},
              "search": {"arms": ["random_search"]}, "arms": {"random_search": {"probe": "naswot"}}}
    with pytest.raises(SparsearchError, match=r"^arms.random_search.probe: 'naswot' reads an MLP's hidden activations; "
                                              r"with parent.kind = 'cnn1d' use one of: init_loss, steps, early"):
        sparsearch.run(config, store=tmp_path / "s.db")
    assert not (tmp_path / "s.db").exists()


def test_conv_populations_are_chunked_by_their_footprint_with_the_same_numbers(images):
    net = parent("lenet5", images.shape, images.n_classes)
    recipe = TrainConfig(epochs=1, batch_size=32)
    seeds = [0, 1, 2, 3, 4]
    population = stacked([net.init(s) for s in seeds])
    one_network, widest = net.footprint(population, recipe.batch_size)
    # LeNet-5 on 1x8x8, 4 classes: params 156 + 2,416 + 7,800 (16 x 2x2 features -> 120) + 10,164 + 340
    # = 20,876; activations per example 6 x 64 + 16 x 16 (conv outputs before pooling) + 120 + 84 + 4 = 848
    assert widest == 6 * 64 and one_network == 4 * (4 * 20_876 + 3 * 32 * 848)
    whole = train_population(net, population, seeds, images, recipe)
    chunked = train_population(net, population, seeds, images, recipe, max_memory=2 * one_network)
    assert torch.equal(whole.train_loss, chunked.train_loss) and torch.equal(whole.test_acc, chunked.test_acc)


def _count(net) -> int:
    return sum(w.numel() + b.numel() for w, b in net.init(0))


def test_lenet5_pads_only_as_far_as_32x32_and_has_the_papers_parameter_count():
    """LeCun et al. 1998 on 1x32x32: conv1 6*25+6 = 156, conv2 16*6*25+16 = 2,416, 16*5*5 = 400
    features -> 120: 48,120, 120 -> 84: 10,164, 84 -> 10: 850; 61,706 in all. 28x28 is padded
    by 2 to the same network; 32x32 is not padded (padding 2 there gave 16*6*6 = 576 features
    and 82,826 parameters); 3 input channels add 2*6*25 = 300 weights."""
    mnist, paper, cifar = (parent("lenet5", shape) for shape in ((1, 28, 28), (1, 32, 32), (3, 32, 32)))
    assert (_count(mnist), _count(paper), _count(cifar)) == (61_706, 61_706, 62_006)
    assert [c.padding for c in paper.convs] == [0, 0] and [c.padding for c in mnist.convs] == [2, 0]
    assert parent("lenet5", (1, 30, 30)).convs[0].padding == 1
    assert [c.padding for c in parent("lenet5", (1, 8, 8)).convs] == [2, 2]
    # The 28x28 spec (the trial keys of stored MNIST results) is what it always was; 32x32's says
    # its padding, so results stored with the old padding are not reused for the new network.
    assert mnist.spec() == {"kind": "lenet5", "input": [1, 28, 28], "classes": 10, "settings": {"channels": [6, 16]}}
    assert paper.spec()["first_padding"] == 0
    assert _count(from_spec(paper.spec())) == 61_706
