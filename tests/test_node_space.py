import pytest
import torch

from sparsearch.nets.mlp import MLP, compact, forward, init_parent
from sparsearch.seeding import generator
from sparsearch.spaces.node import NodeMask, full_mask, kept_units, sample_mask
from conftest import assert_close_across_kernels


@pytest.mark.parametrize(
    "width, sparsity, kept", [(300, 0.5, 150), (100, 0.95, 5), (300, 0.95, 15), (10, 0.25, 8), (10, 0.35, 6), (7, 0.0, 7)]
)
def test_kept_units_removes_round_s_times_width(width, sparsity, kept):
    # 10 * 0.25 = 2.5 rounds half to even (2 removed); 10 * 0.35 = 3.5 rounds to 4.
    assert kept_units(width, sparsity) == kept


def test_sample_mask_is_sorted_unique_and_seeded():
    mask = sample_mask((300, 100), 0.75, generator("t", 0))
    assert [len(layer) for layer in mask.keep] == [75, 25]
    for layer, width in zip(mask.keep, (300, 100)):
        assert list(layer) == sorted(set(layer)) and all(0 <= u < width for u in layer)
    assert mask == sample_mask((300, 100), 0.75, generator("t", 0))
    assert mask != sample_mask((300, 100), 0.75, generator("t", 1))


def test_compacted_network_equals_parent_with_removed_units_silenced():
    widths = (6, 8, 5, 3)
    parent = init_parent(widths, 3)
    masks = [NodeMask(((0, 2, 5, 7), (1, 4))), NodeMask(((1, 2, 3, 6), (0, 3)))]
    x = torch.randn(11, 6)
    compacted = forward(compact(parent, masks), x)
    for p, mask in enumerate(masks):
        h = x
        for i, (w, b) in enumerate(parent):
            h = h @ w + b
            if i < 2:
                keep = torch.zeros(widths[i + 1])
                keep[list(mask.keep[i])] = 1
                h = torch.relu(h) * keep
        assert_close_across_kernels(compacted[p], h)


def test_cost_of_default_parent_at_half_node_sparsity_by_hand():
    widths = (64, 300, 100, 10)
    mask = sample_mask((300, 100), 0.5, generator("t", 0))
    c = MLP(widths).cost(mask)
    # compacted 64-150-50-10: weights 9600 + 7500 + 500 = 17600, biases 210
    assert c.params == 17810
    assert c.flops == 2 * 17600
    assert c.node_sparsity == 0.5
    assert c.weight_sparsity == pytest.approx(1 - 17600 / 50200)
    dense = MLP(widths).cost(full_mask((300, 100)))
    assert (dense.params, dense.node_sparsity, dense.weight_sparsity) == (50610, 0.0, 0.0)
