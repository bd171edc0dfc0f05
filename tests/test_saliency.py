"""The saliency module: per-weight SNIP, GraSP and SynFlow on stacked populations against
references (nn.Sequential autograd, finite differences, the conservation law), a population
scored at once equal to each network scored alone, the probes as their sums per network, and
iterative SynFlow's masks."""

import pytest
import torch
from torch import nn

from conftest import assert_close_across_kernels, linears_of
from sparsearch.errors import SparsearchError
from sparsearch.nets.base import stacked
from sparsearch.nets.mlp import MLP, forward, init_parent, parent_widths
from sparsearch.probes import ProbeInput, grasp as grasp_probe, snip as snip_probe, synflow as synflow_probe
from sparsearch.pruning import kept_per_layer, mask_from_scores, random_scores, synflow_mask
from sparsearch.saliency import first, grasp, hessian_gradient_product, one, per_network, snip, synflow

WIDTHS = (12, 20, 15, 4)
PARENT = MLP(WIDTHS)


def batch(n_features=12, n_classes=4, size=16, seed=0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(size, n_features, generator=gen, dtype=dtype)
    y = torch.randint(0, n_classes, (size,), generator=gen)
    return x, y


def small_net(dtype=torch.float32, seed=0):
    return [(w.to(dtype), b.to(dtype)) for w, b in init_parent(WIDTHS, seed)]


def shapes_of(layers):
    return [tuple(w.shape) for w, _ in layers]


def one_layer_grad(layers, x, y, temperature):
    ws = [w.detach().clone().requires_grad_(True) for w, _ in layers]
    logits = forward([(w.unsqueeze(0), b.unsqueeze(0)) for w, (_, b) in zip(ws, layers)], x)[0]
    loss = nn.functional.cross_entropy(logits / temperature, y)
    return [g.detach() for g in torch.autograd.grad(loss, ws)]


# --- SNIP and GraSP ---------------------------------------------------------------------------


def test_snip_equals_sequential_autograd():
    layers = small_net()
    x, y = batch()
    linears = linears_of(layers)
    net = nn.Sequential(linears[0], nn.ReLU(), linears[1], nn.ReLU(), linears[2])
    nn.functional.cross_entropy(net(x), y).backward()
    expected = [(m.weight * m.weight.grad).abs().t() for m in linears]
    for ours, ref in zip(first(snip(PARENT, one(layers), x, y)), expected):
        assert ours.shape == ref.shape
        torch.testing.assert_close(ours, ref.detach(), rtol=1e-5, atol=1e-9)


def test_grasp_hessian_gradient_product_matches_finite_differences():
    layers = small_net(torch.float64)
    x, y = batch(dtype=torch.float64)
    temperature = 200.0
    v = one_layer_grad(layers, x, y, temperature)
    eps = 1e-4 / torch.sqrt(sum((g * g).sum() for g in v)).item()

    def shifted(sign):
        return [(w + sign * eps * g, b) for (w, b), g in zip(layers, v)]

    plus, minus = one_layer_grad(shifted(1), x, y, temperature), one_layer_grad(shifted(-1), x, y, temperature)
    fd = [(p - m) / (2 * eps) for p, m in zip(plus, minus)]
    hg = first(hessian_gradient_product(PARENT, one(layers), x, y, temperature))
    flat_fd, flat_hg = torch.cat([f.flatten() for f in fd]), torch.cat([h.flatten() for h in hg])
    assert flat_hg.abs().max() > 0
    assert torch.linalg.norm(flat_hg - flat_fd) <= 1e-4 * torch.linalg.norm(flat_fd)


def test_grasp_scores_are_w_times_hg_so_keeping_highest_removes_largest_grasp_score():
    layers = small_net(torch.float64)
    x, y = batch(dtype=torch.float64)
    hg = first(hessian_gradient_product(PARENT, one(layers), x, y, 200.0))
    scores = first(grasp(PARENT, one(layers), x, y, 200.0))
    for s, (w, _), h in zip(scores, layers, hg):
        torch.testing.assert_close(s, w * h)
    kept = mask_from_scores(scores, 0.5, "global")
    paper = torch.cat([(-w * h).flatten() for (w, _), h in zip(layers, hg)])  # the paper's S
    removed = ~torch.cat([m.flatten() for m in kept])
    assert paper[removed].min() >= paper[~removed].max()


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan")])
def test_grasp_rejects_bad_temperature(temperature):
    x, y = batch()
    with pytest.raises(SparsearchError, match="temperature must be > 0"):
        grasp(PARENT, one(small_net()), x, y, temperature)


# --- populations and probes -------------------------------------------------------------------


def test_a_population_scores_as_each_network_alone():
    nets = [small_net(seed=s) for s in range(3)]
    population = stacked(nets)
    x, y = batch()
    together = {"snip": snip(PARENT, population, x, y), "grasp": grasp(PARENT, population, x, y, 200.0),
                "synflow": synflow(PARENT, population)}
    for p, net in enumerate(nets):
        alone = {"snip": snip(PARENT, one(net), x, y), "grasp": grasp(PARENT, one(net), x, y, 200.0),
                 "synflow": synflow(PARENT, one(net))}
        for name in together:
            for a, b in zip(together[name], alone[name]):
                assert_close_across_kernels(a[p], b[0])


class _Trainer:
    parent = PARENT


def test_the_probes_are_the_per_weight_scores_summed_per_network():
    population = stacked([small_net(seed=s) for s in range(3)])
    x, y = batch()
    probe = ProbeInput(_Trainer(), population, x, y, order_seed=0)
    snips = snip(PARENT, population, x, y)
    assert torch.equal(snip_probe(probe), sum(s.flatten(1).sum(1) for s in snips))
    by_hand = sum(s[1].sum() for s in snips)  # network 1: the sum over its layers and weights
    assert torch.allclose(per_network(snips)[1], by_hand)
    assert torch.equal(grasp_probe(probe), -per_network(grasp(PARENT, population, x, y, 1.0)))
    assert torch.equal(synflow_probe(probe), per_network(synflow(PARENT, population)).float())
    assert not torch.equal(grasp_probe(probe), -per_network(grasp(PARENT, population, x, y, 200.0)))


# --- SynFlow ----------------------------------------------------------------------------------


def test_synflow_conserves_synaptic_flow_per_layer():
    layers = [(w, torch.zeros_like(b)) for w, b in small_net()]
    masks = mask_from_scores(random_scores(shapes_of(layers), torch.Generator().manual_seed(0)), 0.5, "uniform")
    for m in (None, masks):
        scores = first(synflow(PARENT, one(layers), None if m is None else [mk.unsqueeze(0) for mk in m]))
        eff = [
            (w.double().abs() * (1 if m is None else mk.double())).unsqueeze(0)
            for (w, _), mk in zip(layers, m or [None] * 3)
        ]
        r = forward([(w, torch.zeros(1, w.shape[-1], dtype=torch.float64)) for w in eff], torch.ones(1, 12, dtype=torch.float64)).sum()
        for s in scores:
            assert s.dtype == torch.float64
            assert s.sum().item() == pytest.approx(r.item(), rel=1e-6)
    masked = first(synflow(PARENT, one(layers), [mk.unsqueeze(0) for mk in masks]))
    assert all((s[~mk] == 0).all() for s, mk in zip(masked, masks))
    with pytest.raises(SparsearchError, match="one mask per layer"):
        synflow(PARENT, one(layers), masks)  # unstacked masks for a stacked population


def test_iterative_synflow_avoids_layer_collapse_and_hits_target():
    layers = init_parent(parent_widths(64, [300, 100], 10), seed=0)
    masks = synflow_mask(MLP(parent_widths(64, [300, 100], 10)), layers, 0.999, "global", iterations=100)
    total = sum(w.numel() for w, _ in layers)
    assert sum(int(m.sum()) for m in masks) == total - round(0.999 * total)
    assert all(int(m.sum()) >= 1 for m in masks)


def test_synflow_mask_with_uniform_allocation_hits_per_layer_counts():
    layers = small_net()
    masks = synflow_mask(PARENT, layers, 0.9, "uniform", iterations=10)
    assert [int(m.sum()) for m in masks] == kept_per_layer(shapes_of(layers), 0.9, "uniform")
