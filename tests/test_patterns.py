"""N:M and block weight masks (issue 24, item 6): the formulas on hand-made scores."""

import pytest
import torch

from sparsearch.errors import SparsearchError
from sparsearch.pruning import NM, Block, mask_from_scores, parse_pattern, random_scores, shuffle_within_layers
from sparsearch.pruning.patterns import rows_view

NAN = float("nan")


def mask(*rows):
    return torch.tensor(rows, dtype=torch.bool)


# --- the formulas, by hand ---------------------------------------------------------------

def test_2_4_of_an_mlp_layer_groups_each_outputs_inputs_a_column_of_its_in_out_weight():
    # output 0's inputs (column 0): [5 1 3 2 | 0 7 7 1] keeps 5, 3 and both 7s;
    # output 1's inputs (column 1): [1 1 1 1 | 4 -1 nan 4] keeps the first two of a tie and both 4s
    scores = torch.tensor([[5, 1, 3, 2, 0, 7, 7, 1], [1, 1, 1, 1, 4, -1, NAN, 4]]).T  # [in 8, out 2]
    (kept,) = mask_from_scores([scores], 0.5, "uniform", "2:4", "in_out")
    assert torch.equal(kept, mask([1, 0, 1, 0, 0, 1, 1, 0], [1, 1, 0, 0, 1, 0, 0, 1]).T)
    # the same numbers read as [out, in] rows group along the other axis
    (rows,) = mask_from_scores([scores.T.contiguous()], 0.5, "uniform", "2:4")
    assert torch.equal(rows, kept.T)


def test_2_4_of_a_conv_layer_groups_in_channels_x_kernel_and_a_partial_group_keeps_min_n_r():
    # [out 2, in 1, kernel 5]: rows of 5 = a group of 4 and a partial group of 1, which keeps min(2, 1) = 1
    scores = torch.tensor([[[0.1, 0.4, 0.3, 0.2, -9.0]], [[2.0, 2.0, 2.0, 2.0, 0.0]]])
    (kept,) = mask_from_scores([scores], 0.5, "global", "2:4")
    assert torch.equal(kept, mask([[0, 1, 1, 0, 1]], [[1, 1, 0, 0, 1]]))
    assert int(kept.sum()) == 6  # 6 of 10: the partial groups leave the layer at sparsity 0.4
    # [out 1, in 2, kernel 3] at 3:4: the row [1 2 3 | 4 5 6] is a group of 4 keeping 3, then 2 of 2
    (kept,) = mask_from_scores([torch.arange(1.0, 7.0).reshape(1, 2, 3)], 0.25, "uniform", "3:4")
    assert torch.equal(kept, mask([[0, 1, 1], [1, 1, 1]]))


def test_nan_ranks_lowest_and_ties_keep_the_lower_index_within_a_group():
    (kept,) = mask_from_scores([torch.tensor([[NAN, 1.0, NAN, 0.0, 3.0, 3.0, 3.0, 3.0]])], 0.5, "uniform", "2:4")
    assert torch.equal(kept, mask([0, 1, 0, 1, 1, 1, 0, 0]))


def test_below_n_m_s_sparsity_the_allocation_holds_without_removing_a_groups_n_best():
    # k = 8 - round(0.375 * 8) = 5: unstructured keeps 8 7 6 5 2, leaving one weight in group 2;
    # under 2:4 the N best of each group (8 7 | 1 2) stay, and the best other (6) fills the count
    row = torch.tensor([[8.0, 7.0, 6.0, 5.0, 0.0, 0.0, 1.0, 2.0]])
    assert torch.equal(mask_from_scores([row], 0.375, "uniform")[0], mask([1, 1, 1, 1, 0, 0, 0, 1]))
    assert torch.equal(mask_from_scores([row], 0.375, "uniform", "2:4")[0], mask([1, 1, 1, 0, 0, 0, 1, 1]))
    # global over both layers, 1:4 (own sparsity 0.75) at 0.5: 12 - 6 = 6 kept. Unstructured keeps
    # 8 7 6 5 2 1 and empties the second layer; 1:4 keeps each group's best (8 | 2 | 0.5) and then 7 6 5
    two = [row, torch.tensor([[0.5, 0.4, 0.3, 0.2]])]
    assert [m.int().tolist() for m in mask_from_scores(two, 0.5, "global")] == [[[1, 1, 1, 1, 0, 0, 1, 1]],
                                                                               [[0, 0, 0, 0]]]
    glob = mask_from_scores(two, 0.5, "global", "1:4")
    assert [m.int().tolist() for m in glob] == [[[1, 1, 1, 1, 0, 0, 0, 1]], [[1, 0, 0, 0]]]


def test_n_m_cannot_prune_beyond_its_own_sparsity():
    with pytest.raises(SparsearchError, match=r'^pattern "2:4" keeps 2 of every 4 weights \(sparsity 0.5\); it '
                                              r"cannot prune to sparsity 0.75$"):
        mask_from_scores([torch.rand(4, 8)], 0.75, "uniform", "2:4")


def block_constant(values, shape, rows, cols):
    """A [out, row] score matrix whose block (i, j) of rows x cols holds values[i][j]."""
    v = torch.tensor(values, dtype=torch.float64)
    return v.repeat_interleave(rows, 0).repeat_interleave(cols, 1)[: shape[0], : shape[1]]


def kept_blocks(kept, rows, cols):
    """The blocks a block mask keeps ([block rows, block cols] bool); asserts each is kept or removed whole."""
    out, length = kept.shape
    grid = torch.zeros((-(-out // rows), -(-length // cols)), dtype=torch.bool)
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            block = kept[i * rows : (i + 1) * rows, j * cols : (j + 1) * cols]
            assert bool(block.all()) or not bool(block.any()), (i, j)
            grid[i, j] = bool(block.any())
    return grid


def kept_block_sizes(kept, rows, cols):
    """The sizes of the whole blocks a block mask keeps, sorted."""
    grid = kept_blocks(kept, rows, cols)
    out, length = kept.shape
    return sorted(min(rows, out - i * rows) * min(cols, length - j * cols) for i, j in grid.nonzero().tolist())


def test_block4x4_keeps_whole_blocks_by_mean_score_nearest_the_allocations_count():
    # [6, 10] holds blocks of sizes [[16 16 8] [8 8 4]] scoring [[1 5 4] [3 2 6]]: ranked
    # 6 (4 weights), 5 (16), 4 (8), 3 (8), 2 (8), 1 (16), totals 4 20 28 36 44 60
    scores = block_constant([[1, 5, 4], [3, 2, 6]], (6, 10), 4, 4)
    (kept,) = mask_from_scores([scores], 0.5, "uniform", "block4x4")  # count 30: 28 is nearest
    assert torch.equal(kept_blocks(kept, 4, 4), mask([0, 1, 1], [0, 0, 1])) and int(kept.sum()) == 28
    (kept,) = mask_from_scores([scores], 0.6, "uniform", "block4x4")  # count 24: 20 and 28 tie, the fewer
    assert torch.equal(kept_blocks(kept, 4, 4), mask([0, 1, 0], [0, 0, 1])) and int(kept.sum()) == 20
    # global: a second layer, one block of 16 scoring 4.5; count 76 - 38 = 38, nearest 36
    both = mask_from_scores([scores, torch.full((4, 4), 4.5)], 0.5, "global", "block4x4")
    assert torch.equal(kept_blocks(both[0], 4, 4), mask([0, 1, 0], [0, 0, 1])) and bool(both[1].all())
    # per layer a layer keeps at least one block: count 1 of 60 keeps the best block
    (kept,) = mask_from_scores([scores], 0.98, "uniform", "block4x4")
    assert torch.equal(kept_blocks(kept, 4, 4), mask([0, 0, 0], [0, 0, 1]))


def test_a_block_scores_its_mean_and_an_mlp_block_spans_outputs_x_inputs():
    # block1x2: [10 -10] has mean 0 (its max is 10), [1 1] has mean 1 and wins
    (kept,) = mask_from_scores([torch.tensor([[10.0, -10.0, 1.0, 1.0]])], 0.5, "uniform", "block1x2")
    assert torch.equal(kept, mask([0, 0, 1, 1]))
    # an MLP's [in 4, out 2] weight: block2x2 spans both outputs x two consecutive inputs
    view = torch.tensor([[1.0, 1.0, 9.0, 9.0], [1.0, 1.0, 9.0, 9.0]])  # [out, in]
    (kept,) = mask_from_scores([view.T.contiguous()], 0.5, "uniform", "block2x2", "in_out")
    assert torch.equal(kept, mask([0, 0], [0, 0], [1, 1], [1, 1]))


@pytest.mark.parametrize("allocation", ["global", "uniform", "erk"])
def test_unset_or_unstructured_pattern_is_the_unstructured_mask_bit_for_bit(allocation):
    shapes = [(16, 16), (16, 8), (8, 4)]
    scores = random_scores(shapes, torch.Generator().manual_seed(3))
    before = mask_from_scores(scores, 0.7, allocation)
    for pattern in (None, "unstructured"):
        for layout in ("in_out", "out_in"):
            after = mask_from_scores(scores, 0.7, allocation, pattern, layout)
            assert all(torch.equal(a, b) for a, b in zip(before, after))


@pytest.mark.parametrize("bad", ["3:2", "0:4", "4:4", "2:4:1", "block0x4", "blk4", "block4", " 2:4", "2:-4", ""])
def test_a_malformed_pattern_is_refused_quoting_it(bad):
    with pytest.raises(SparsearchError, match=r'^must be "unstructured", "N:M" with 1 <= N < M \(e.g. "2:4"\) or '
                                              r'"blockRxC" with R, C >= 1 \(e.g. "block4x4"\), got ' + repr(bad) + "$"):
        parse_pattern(bad)


def test_patterns_parse_to_their_canonical_form():
    assert parse_pattern("2:4") == NM(2, 4) and str(parse_pattern("02:4")) == "2:4"
    assert parse_pattern("block4x8") == Block(4, 8) and parse_pattern("unstructured") is None
    assert NM(1, 3).matches(0.666667) and not NM(2, 4).matches(0.5001)


def group_counts(kept, layout, m):
    """Kept weights of each full N:M group and of each row's partial group, of one layer's mask."""
    view = rows_view(kept, layout).int()
    full = view.shape[1] - view.shape[1] % m
    return view[:, :full].reshape(view.shape[0], -1, m).sum(-1), view[:, full:].sum(-1), view.shape[1] % m


def assert_n_of_m(masks, layout, n, m):
    for kept in masks:
        groups, partial, r = group_counts(kept, layout, m)
        assert bool((groups == n).all()), groups
        assert bool((partial == min(n, r)).all()), (partial, r)


def test_shuffling_under_a_pattern_keeps_every_groups_count():
    gen = torch.Generator().manual_seed(0)
    scores = random_scores([(16, 8), (4, 3, 5)], gen)
    for layout in ("in_out", "out_in"):
        nm = mask_from_scores(scores, 0.5, "uniform", "2:4", layout)
        shuffled = shuffle_within_layers(nm, gen, "2:4", layout)
        assert_n_of_m(shuffled, layout, 2, 4)
        assert any(not torch.equal(a, b) for a, b in zip(nm, shuffled))
        blocks = mask_from_scores(scores, 0.5, "uniform", "block2x4", layout)
        for before, after in zip(blocks, shuffle_within_layers(blocks, gen, "block2x4", layout)):
            assert kept_block_sizes(rows_view(after, layout), 2, 4) == kept_block_sizes(rows_view(before, layout), 2, 4)
    # unset: the layer-wise shuffle as before, draw for draw
    mask_ = mask_from_scores(scores, 0.5, "global")
    assert all(torch.equal(a, b) for a, b in zip(shuffle_within_layers(mask_, torch.Generator().manual_seed(7)),
                                                 shuffle_within_layers(mask_, torch.Generator().manual_seed(7), None)))
