"""Structured criteria (unit_importance.py): the formulas by hand on a tiny MLP, each layer's
filter scores against Torch-Pruning's importance of the same layer of the parent as an
`nn.Module` (MLP, LeNet-5, ResNet-20; Taylor with the module's own gradients), a residual
group summing its writers, and node masks from unit scores with uniform and global allocation."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sparsearch.config import ParentConfig
from sparsearch.nets import build_parent
from sparsearch.nets.base import stacked
from sparsearch.spaces.node import mask_from_unit_scores
from sparsearch.unit_importance import bn_scale, fpgm, l1_norm, taylor, unit_scores

tp = pytest.importorskip("torch_pruning", reason="torch-pruning is not installed (a dependency of sparsearch)")


def test_the_criteria_by_hand_on_a_tiny_mlp():
    net = build_parent(ParentConfig(hidden=[2]), (2,), 2)
    w1 = torch.tensor([[1.0, -2.0], [3.0, 0.5]])  # [in, out]: unit 0's filter (1, 3), unit 1's (-2, 0.5)
    layers = [(w1[None], torch.zeros(1, 2)), (torch.tensor([[[1.0, 0.0], [0.0, 1.0]]]), torch.zeros(1, 2))]
    assert l1_norm(net, layers)[0].tolist() == [[4.0, 2.5]]
    distance = ((1 + 2) ** 2 + (3 - 0.5) ** 2) ** 0.5
    torch.testing.assert_close(fpgm(net, layers)[0], torch.tensor([[distance, distance]]))
    # one example x = (1, 1), label 0: hidden pre-activations (4, -1.5), unit 1 dead; logits (4, 0)
    x, y = torch.ones(1, 1, 2), torch.zeros(1, 1, dtype=torch.long)
    p1 = torch.sigmoid(torch.tensor(4.0)).item()  # softmax probability of class 0
    # dL/dh0 = (p0 - 1) * 1 (the logit-0 weight of unit 0); dL/dW1[:, 0] = x * dL/dh0; unit 1 gets none
    expected = abs((p1 - 1) * (1 + 3))
    scores = taylor(net, layers, x, y)[0]
    torch.testing.assert_close(scores, torch.tensor([[expected, 0.0]]))
    assert [u.tolist() for u in unit_scores(net, l1_norm(net, layers))[0]] == [[4.0, 2.5]]


def _mlp():
    return build_parent(ParentConfig(hidden=[12, 8]), (10,), 3)


def _lenet5():
    return build_parent(ParentConfig(kind="lenet5"), (1, 8, 8), 4)


def _resnet20():
    return build_parent(ParentConfig(kind="resnet20", channels=[4, 8, 12]), (3, 8, 8), 4)


def _weighted(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))]


def _reference(importance, layer: nn.Module) -> torch.Tensor:
    """Torch-Pruning's importance of `layer`'s output channels, traced on the layer alone (its
    tracer does not follow ResNet-20's zero-padded shortcuts, and group reduction "first" reads
    only the layer itself)."""
    if isinstance(layer, nn.BatchNorm2d):
        fn, out, example = tp.prune_batchnorm_out_channels, layer.num_features, (1, layer.num_features, 4, 4)
    elif isinstance(layer, nn.Linear):
        fn, out, example = tp.prune_linear_out_channels, layer.out_features, (1, layer.in_features)
    else:
        fn, out = tp.prune_conv_out_channels, layer.out_channels
        example = (1, layer.in_channels, *(8,) * (layer.weight.dim() - 2))
    graph = tp.DependencyGraph().build_dependency(nn.Sequential(layer).eval(), example_inputs=torch.randn(example))
    return importance(graph.get_pruning_group(layer, fn, idxs=list(range(out))))


def _module(net, population_of_one):
    return net.module([tuple(t[0] for t in layer) for layer in population_of_one])


PARENTS = {"mlp": _mlp, "lenet5": _lenet5, "resnet20": _resnet20}


def _population(net, seeds=(0, 1)):
    return stacked([net.init(seed) for seed in seeds])


def _batch(net):
    x = torch.randn(2, 16, net.widths[0], generator=torch.Generator().manual_seed(2))
    return x, torch.randint(0, net.widths[-1], (2, 16), generator=torch.Generator().manual_seed(3))


CASES = [(kind, criterion) for kind in PARENTS for criterion in ("l1_norm", "fpgm", "taylor")
         if (kind, criterion) != ("resnet20", "taylor")]  # with BatchNorm Taylor scores the gate: the next test


@pytest.mark.parametrize("kind, criterion", CASES)
def test_each_layer_scores_as_torch_pruning_scores_it(kind, criterion):
    net = PARENTS[kind]()
    layers = _population(net)
    if criterion == "fpgm":  # Torch-Pruning measures distances between |w|^p: equal to the filters' for w >= 0, p = 1
        layers = [(layer[0].abs(), *layer[1:]) for layer in layers]
    x, y = _batch(net)
    ours = {"l1_norm": lambda: l1_norm(net, layers), "fpgm": lambda: fpgm(net, layers),
            "taylor": lambda: taylor(net, layers, x, y)}[criterion]()
    importance = {
        "l1_norm": tp.importance.MagnitudeImportance(p=1, group_reduction="first", normalizer=None),
        "fpgm": tp.importance.FPGMImportance(p=1, group_reduction="first", normalizer=None),
        "taylor": tp.importance.TaylorImportance(group_reduction="first", normalizer=None, multivariable=True),
    }[criterion]
    for p in range(2):
        module = _module(net, [tuple(t[p : p + 1] for t in layer) for layer in layers])
        if criterion == "taylor":
            module.train()
            F.cross_entropy(module(x[p]), y[p]).backward()
        for i, layer in enumerate(_weighted(module)[:-1]):
            reference = _reference(importance, layer)
            scale = reference.abs().max()
            # different kernels (stacked vs one module): a tolerance that holds across CPUs; a wrong formula is off by O(1)
            torch.testing.assert_close(ours[i][p], reference, rtol=1e-3, atol=1e-4 * scale,
                                       msg=f"{kind} layer {i} network {p}")


def test_taylor_after_batchnorm_is_the_gradient_of_a_gate_on_each_channel():
    """Molchanov et al. 2019's gate: a multiplier z = 1 on each BatchNorm output channel;
    the score is |dL/dz|, here taken by autograd on the parent as an `nn.Module`."""
    net = _resnet20()
    layers = _population(net)
    x, y = _batch(net)
    ours = taylor(net, layers, x, y)
    for p in range(2):
        module = _module(net, [tuple(t[p : p + 1] for t in layer) for layer in layers]).train()
        norms = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
        gates = [torch.ones(n.num_features, requires_grad=True) for n in norms]
        for norm, gate in zip(norms, gates):
            norm.register_forward_hook(lambda m, args, out, gate=gate: out * gate.view(1, -1, 1, 1))
        F.cross_entropy(module(x[p]), y[p]).backward()
        for i, gate in enumerate(gates):
            reference = gate.grad.abs()
            torch.testing.assert_close(ours[i][p], reference, rtol=1e-3, atol=1e-4 * reference.max(),
                                       msg=f"layer {i} network {p}")


def test_batchnorm_scales_are_torch_pruning_s_and_a_residual_stream_sums_its_writers():
    net = _resnet20()
    layers = _population(net)
    gen = torch.Generator().manual_seed(4)
    layers = [(layer[0], torch.rand(layer[1].shape, generator=gen) - 0.5, *layer[2:]) if len(layer) == 5 else layer
              for layer in layers]
    scores = bn_scale(net, layers)
    importance = tp.importance.BNScaleImportance(group_reduction="first", normalizer=None)
    module = _module(net, [tuple(t[1:2] for t in layer) for layer in layers])
    norms = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
    for i, norm in enumerate(norms):
        torch.testing.assert_close(scores[i][1], _reference(importance, norm))
    # group S1 (the stem's 4 channels) is written by the stem and by the second convolution of all
    # nine blocks (later stages' streams begin with S1's channels); S2 by stage 2's and 3's
    # blocks, rows 4..7; an inner group by its block's first convolution alone
    units = unit_scores(net, scores)[1]
    second = [scores[2 + 2 * b][1] for b in range(9)]
    torch.testing.assert_close(units[0], scores[0][1] + sum(s[:4] for s in second))
    torch.testing.assert_close(units[4], sum(s[4:8] for s in second[3:]))
    torch.testing.assert_close(units[8], sum(s[8:12] for s in second[6:]))
    torch.testing.assert_close(units[1], scores[1][1])
    assert [len(u) for u in units] == list(net.groups)


def test_uniform_allocation_keeps_each_group_s_best_and_global_ranks_across_groups():
    scores = [torch.tensor([0.1, 5.0, 0.3, 0.2]), torch.tensor([1.0, 2.0]), torch.tensor([9.0, 8.0, 7.0, 6.0])]
    assert mask_from_unit_scores(scores, 0.5).keep == ((1, 2), (1,), (0, 1))
    # 5 nodes in all: each group's best (1; 1; 0), then the best of the rest: 8.0 and 7.0
    assert mask_from_unit_scores(scores, 0.5, "global").keep == ((1,), (1,), (0, 1, 2))
    # ties: the earlier group and lower index first; NaN never before a number
    tied = [torch.tensor([1.0, 1.0, 1.0]), torch.tensor([1.0, float("nan"), 1.0])]  # 2 of 3 kept per group at 1/3
    assert mask_from_unit_scores(tied, 1 / 3, "global").keep == ((0, 1, 2), (0,))
    assert mask_from_unit_scores(tied, 1 / 3, "uniform").keep == ((0, 1), (0, 2))
