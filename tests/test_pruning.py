import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from sparsearch.errors import SparsearchError
from sparsearch.nets.mlp import forward, init_parent, parent_widths
from sparsearch.pruning import (
    cubic_sparsity,
    erk_densities,
    grasp_scores,
    hessian_gradient_product,
    kept_per_layer,
    magnitude_scores,
    mask_from_scores,
    random_scores,
    shuffle_within_layers,
    snip_scores,
    synflow_mask,
    synflow_scores,
)

LENET = [(784, 300), (300, 100), (100, 10)]


def shapes_of(layers):
    return [tuple(w.shape) for w, _ in layers]


def batch(n_features=12, n_classes=4, size=16, seed=0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(size, n_features, generator=gen, dtype=dtype)
    y = torch.randint(0, n_classes, (size,), generator=gen)
    return x, y


def small_net(dtype=torch.float32, seed=0):
    return [(w.to(dtype), b.to(dtype)) for w, b in init_parent((12, 20, 15, 4), seed)]


def one_layer_grad(layers, x, y, temperature):
    ws = [w.detach().clone().requires_grad_(True) for w, _ in layers]
    logits = forward([(w.unsqueeze(0), b.unsqueeze(0)) for w, (_, b) in zip(ws, layers)], x)[0]
    loss = nn.functional.cross_entropy(logits / temperature, y)
    return [g.detach() for g in torch.autograd.grad(loss, ws)]


# --- allocation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "density, expected", [(0.1, (0.0796, 0.2302, 1.0)), (0.02, (0.0154, 0.0445, 0.3674))]
)
def test_erk_densities_of_lenet(density, expected):
    densities = erk_densities(LENET, density)
    assert [round(d, 4) for d in densities] == list(expected)
    sizes = [a * b for a, b in LENET]
    assert sum(d * n for d, n in zip(densities, sizes)) == pytest.approx(density * sum(sizes))


def test_erk_at_full_density_is_dense():
    assert erk_densities(LENET, 1.0) == [1.0, 1.0, 1.0]


def test_kept_per_layer_uniform_and_erk():
    sizes = [a * b for a, b in LENET]
    assert kept_per_layer(LENET, 0.9, "uniform") == [n - round(0.9 * n) for n in sizes]
    erk = kept_per_layer(LENET, 0.98, "erk")
    assert erk == [round(d * n) for d, n in zip(erk_densities(LENET, 0.02), sizes)] == [3621, 1336, 367]
    assert abs(sum(erk) - 0.02 * sum(sizes)) <= len(sizes)
    assert min(kept_per_layer([(2, 2), (1000, 1000)], 0.9999, "erk")) >= 1


@pytest.mark.parametrize("allocation", ["uniform", "erk", "global"])
@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.9, 0.987, 0.999])
def test_masks_hit_their_target_to_one_weight(allocation, sparsity):
    layers = init_parent(parent_widths(64, [300, 100], 10), seed=3)
    masks = mask_from_scores(magnitude_scores(layers), sparsity, allocation)
    assert [m.dtype for m in masks] == [torch.bool] * 3
    assert [m.shape for m in masks] == [w.shape for w, _ in layers]
    kept = [int(m.sum()) for m in masks]
    if allocation == "global":
        total = sum(w.numel() for w, _ in layers)
        assert sum(kept) == total - round(sparsity * total)
    else:
        assert kept == kept_per_layer(shapes_of(layers), sparsity, allocation)


def test_mask_keeps_highest_and_breaks_ties_by_lower_index():
    scores = [torch.tensor([[1.0, 3.0], [3.0, float("nan")]]), torch.tensor([[3.0, 0.5]])]
    uniform = mask_from_scores(scores, 0.5, "uniform")
    assert uniform[0].tolist() == [[False, True], [True, False]]
    assert uniform[1].tolist() == [[True, False]]
    glob = mask_from_scores(scores, 0.5, "global")  # 6 weights, keep 3: the three 3.0s
    assert glob[0].tolist() == [[False, True], [True, False]] and glob[1].tolist() == [[True, False]]
    ties = mask_from_scores([torch.zeros(2, 3)], 0.5, "uniform")
    assert ties[0].tolist() == [[True, True, True], [False, False, False]]
    inf = mask_from_scores([torch.tensor([[float("-inf"), float("nan"), float("inf")]])], 0.6, "global")
    assert inf[0].tolist() == [[False, False, True]]


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan")])
def test_bad_sparsity_raises(bad):
    with pytest.raises(SparsearchError, match="sparsity"):
        mask_from_scores([torch.rand(3, 3)], bad, "uniform")


def test_unknown_allocation_raises():
    with pytest.raises(SparsearchError, match="allocation"):
        mask_from_scores([torch.rand(3, 3)], 0.5, "layerwise")
    with pytest.raises(SparsearchError, match="allocation"):
        kept_per_layer([(3, 3)], 0.5, "global")


# --- magnitude vs torch.nn.utils.prune --------------------------------------------------------


def linears_of(layers):
    out = []
    for w, b in layers:
        linear = nn.Linear(w.shape[0], w.shape[1])
        with torch.no_grad():
            linear.weight.copy_(w.t())
            linear.bias.copy_(b)
        out.append(linear)
    return out


@pytest.mark.parametrize("sparsity", [0.3, 0.8, 0.95, 0.999])
def test_magnitude_layerwise_equals_torch_prune(sparsity):
    layers = init_parent(parent_widths(64, [300, 100], 10), seed=1)
    ours = mask_from_scores(magnitude_scores(layers), sparsity, "uniform")
    for linear, mask in zip(linears_of(layers), ours):
        prune.l1_unstructured(linear, "weight", amount=sparsity)
        assert torch.equal(linear.weight_mask.t().bool(), mask)


@pytest.mark.parametrize("sparsity", [0.3, 0.8, 0.95, 0.999])
def test_magnitude_global_equals_torch_prune(sparsity):
    layers = init_parent(parent_widths(64, [300, 100], 10), seed=2)
    linears = linears_of(layers)
    prune.global_unstructured([(m, "weight") for m in linears], pruning_method=prune.L1Unstructured, amount=sparsity)
    ours = mask_from_scores(magnitude_scores(layers), sparsity, "global")
    for linear, mask in zip(linears, ours):
        assert torch.equal(linear.weight_mask.t().bool(), mask)


# --- SNIP and GraSP ---------------------------------------------------------------------------


def test_snip_equals_sequential_autograd():
    layers = small_net()
    x, y = batch()
    linears = linears_of(layers)
    net = nn.Sequential(linears[0], nn.ReLU(), linears[1], nn.ReLU(), linears[2])
    nn.functional.cross_entropy(net(x), y).backward()
    expected = [(m.weight * m.weight.grad).abs().t() for m in linears]
    for ours, ref in zip(snip_scores(layers, x, y), expected):
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
    hg = hessian_gradient_product(layers, x, y, temperature)
    flat_fd, flat_hg = torch.cat([f.flatten() for f in fd]), torch.cat([h.flatten() for h in hg])
    assert flat_hg.abs().max() > 0
    assert torch.linalg.norm(flat_hg - flat_fd) <= 1e-4 * torch.linalg.norm(flat_fd)


def test_grasp_scores_are_w_times_hg_so_keeping_highest_removes_largest_grasp_score():
    layers = small_net(torch.float64)
    x, y = batch(dtype=torch.float64)
    hg = hessian_gradient_product(layers, x, y, 200.0)
    scores = grasp_scores(layers, x, y)
    for s, (w, _), h in zip(scores, layers, hg):
        torch.testing.assert_close(s, w * h)
    kept = mask_from_scores(scores, 0.5, "global")
    grasp = torch.cat([(-w * h).flatten() for (w, _), h in zip(layers, hg)])  # paper's S
    removed = ~torch.cat([m.flatten() for m in kept])
    assert grasp[removed].min() >= grasp[~removed].max()


def test_grasp_rejects_bad_temperature():
    x, y = batch()
    with pytest.raises(SparsearchError, match="temperature"):
        hessian_gradient_product(small_net(), x, y, temperature=0.0)


# --- SynFlow ----------------------------------------------------------------------------------


def test_synflow_conserves_synaptic_flow_per_layer():
    layers = [(w, torch.zeros_like(b)) for w, b in small_net()]
    masks = mask_from_scores(random_scores(shapes_of(layers), torch.Generator().manual_seed(0)), 0.5, "uniform")
    for m in (None, masks):
        scores = synflow_scores(layers, m)
        eff = [
            (w.double().abs() * (1 if m is None else mk.double())).unsqueeze(0)
            for (w, _), mk in zip(layers, m or [None] * 3)
        ]
        r = forward([(w, torch.zeros(1, w.shape[-1], dtype=torch.float64)) for w in eff], torch.ones(1, 12, dtype=torch.float64)).sum()
        for s in scores:
            assert s.dtype == torch.float64
            assert s.sum().item() == pytest.approx(r.item(), rel=1e-6)
    assert all((s[~mk] == 0).all() for s, mk in zip(synflow_scores(layers, masks), masks))


def test_iterative_synflow_avoids_layer_collapse_and_hits_target():
    layers = init_parent(parent_widths(64, [300, 100], 10), seed=0)
    masks = synflow_mask(layers, 0.999, "global", iterations=100)
    total = sum(w.numel() for w, _ in layers)
    assert sum(int(m.sum()) for m in masks) == total - round(0.999 * total)
    assert all(int(m.sum()) >= 1 for m in masks)


def test_synflow_mask_with_uniform_allocation_hits_per_layer_counts():
    layers = small_net()
    masks = synflow_mask(layers, 0.9, "uniform", iterations=10)
    assert [int(m.sum()) for m in masks] == kept_per_layer(shapes_of(layers), 0.9, "uniform")


# --- schedule and random controls -------------------------------------------------------------


def test_cubic_sparsity_zhu_gupta():
    got = [round(cubic_sparsity(t, 0.0, 0.9, 0, 10, 1), 4) for t in range(11)]
    assert got == [0.0, 0.2439, 0.4392, 0.5913, 0.7056, 0.7875, 0.8424, 0.8757, 0.8928, 0.8991, 0.9]
    assert cubic_sparsity(-5, 0.1, 0.9, 0, 10, 1) == 0.1
    assert cubic_sparsity(50, 0.1, 0.9, 0, 10, 1) == 0.9
    with pytest.raises(SparsearchError):
        cubic_sparsity(0, 0.0, 0.9, 0, 0, 1)


def test_shuffle_keeps_counts_is_seeded_and_changes_mask():
    layers = init_parent(parent_widths(64, [300, 100], 10), seed=0)
    mask = mask_from_scores(magnitude_scores(layers), 0.9, "erk")
    a = shuffle_within_layers(mask, torch.Generator().manual_seed(5))
    b = shuffle_within_layers(mask, torch.Generator().manual_seed(5))
    c = shuffle_within_layers(mask, torch.Generator().manual_seed(6))
    assert [int(m.sum()) for m in a] == [int(m.sum()) for m in mask]
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    assert not all(torch.equal(p, q) for p, q in zip(a, mask))
    assert not all(torch.equal(p, q) for p, q in zip(a, c))
    assert [m.shape for m in a] == [m.shape for m in mask] and a[0].dtype == torch.bool


def test_random_scores_are_seeded_and_shaped():
    shapes = [(5, 4), (4, 3)]
    a = random_scores(shapes, torch.Generator().manual_seed(1))
    b = random_scores(shapes, torch.Generator().manual_seed(1))
    assert [tuple(s.shape) for s in a] == shapes
    assert all(torch.equal(p, q) for p, q in zip(a, b))
