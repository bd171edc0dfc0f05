import pytest
import torch
from torch.nn.utils import prune

from conftest import linears_of
from sparsearch.errors import SparsearchError
from sparsearch.nets.mlp import init_parent, parent_widths
from sparsearch.pruning import (
    cubic_sparsity,
    erk_densities,
    kept_per_layer,
    mask_from_scores,
    random_scores,
    shuffle_within_layers,
)
from sparsearch.saliency import first, magnitude, one

LENET = [(784, 300), (300, 100), (100, 10)]


def shapes_of(layers):
    return [tuple(w.shape) for w, _ in layers]


def magnitude_scores(layers):
    """|W| of one unstacked network, through the stacked saliency module."""
    return first(magnitude(one(layers)))


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
