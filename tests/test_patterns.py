"""N:M and block weight masks (issue 24, item 6): the formulas on hand-made scores, every
weight-space arm that ranks weights (and the lottery and shuffle controls) keeping exactly N of
every M on an MLP and a convolutional parent, unstructured masks unchanged, refusals in one line
before the store, and a run comparing unstructured and 2:4 magnitude side by side."""

import csv
import io

import pytest
import torch

from conftest import toml
from sparsearch.config import DataConfig, config_from_dict
from sparsearch.data import load_dataset
from sparsearch.errors import SparsearchError
from sparsearch.mask.study import Planning, validate
from sparsearch.progress import Progress
from sparsearch.pruning import (NM, Block, kept_per_layer, mask_from_scores, parse_pattern, random_scores,
                                shuffle_within_layers)
from sparsearch.pruning.patterns import rows_view
from sparsearch.saliency import first, magnitude, one
from test_bad_inputs import _refused, check_with, run_with
from test_cli import sparsearch

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


# --- the arms ------------------------------------------------------------------------------

PATTERNED = ["random", "magnitude", "lottery", "gmp", "snip", "grasp", "synflow"]
CONTROLS = ["lottery_reinit", "lottery_random", "shuffle"]
PARENTS = {"mlp": ({"hidden": [16, 8]}, "in_out"), "cnn1d": ({"kind": "cnn1d", "channels": [4, 4, 4]}, "out_in")}


@pytest.fixture(scope="module")
def data():
    return load_dataset(DataConfig(name="synthetic", samples=240))


def arms_config(parent, pattern, sparsities=(0.5, 0.9), arms=PATTERNED + CONTROLS, allocation="global"):
    tables = {name: {"pattern": pattern} for name in PATTERNED} if pattern is not None else {}
    tables.setdefault("synflow", {})["iterations"] = 5
    tables.setdefault("gmp", {})["events"] = 3
    tables["shuffle"] = {"of": "snip"}
    return config_from_dict({
        "experiment": {"name": "patterns", "seeds": 2}, "data": {"name": "synthetic", "samples": 240},
        "parent": PARENTS[parent][0], "train": {"epochs": 2, "batch_size": 48},
        "search": {"space": "weight", "sparsities": list(sparsities), "arms": list(arms), "allocation": allocation},
        "arms": tables,
    })


def gmp_masks(plan):
    """The masks gmp's hook leaves after each of its events, pruning the start weights."""
    weights, masks, seen = [w for w, _ in plan.start], list(plan.mask.layers), []
    for step in sorted(set(plan.hook.steps)):
        masks = plan.hook(step, [w * m for w, m in zip(weights, masks)], masks)
        seen.append(masks)
    return seen


@pytest.mark.parametrize("parent", PARENTS)
def test_every_arm_that_ranks_weights_keeps_exactly_n_of_every_m_at_one_minus_n_over_m(parent, data):
    layout = PARENTS[parent][1]
    planning = Planning(arms_config(parent, "2:4"), data)
    slots = {(a.slot.arm, a.slot.sparsity) for a in planning.assignments(Progress())}
    assert slots == {(arm, 0.5) for arm in PATTERNED + CONTROLS}  # 0.9 is no 2:4 sparsity: none runs there
    for arm in PATTERNED + CONTROLS:
        for plan in planning.plan(arm, 0.5):
            if arm == "gmp":
                events = gmp_masks(plan)
                for earlier, later in zip(events, events[1:]):  # pruned weights stay pruned
                    assert all(not bool((b & ~a).any()) for a, b in zip(earlier, later))
                for masks in events[:-1]:  # earlier events never leave a group below N
                    for kept in masks:
                        assert bool((group_counts(kept, layout, 4)[0] >= 2).all())
                assert_n_of_m(events[-1], layout, 2, 4)
            else:
                assert_n_of_m(plan.mask.layers, layout, 2, 4)
    if parent == "cnn1d":  # the first convolution's rows are 1 x kernel 5: a group of 4 keeps 2, the fifth weight stays
        first_layer = planning.plan("magnitude", 0.5)[0].mask.layers[0]
        assert first_layer.shape == (4, 1, 5) and int(first_layer.sum()) == 4 * 3


@pytest.mark.parametrize("allocation", ["uniform", "erk"])
def test_n_m_ignores_the_allocation_and_lottery_rounds_keep_each_groups_n_best(allocation, data, monkeypatch):
    import sparsearch.arms.lottery as lottery

    rounds = []

    def recording(weights, mask_, level, *args):
        pruned = prune_smallest(weights, mask_, level, *args)
        rounds.append((level, mask_, pruned))
        return pruned

    prune_smallest = lottery.prune_smallest
    monkeypatch.setattr(lottery, "prune_smallest", recording)
    planning = Planning(arms_config("mlp", "2:4", arms=["magnitude", "lottery"], allocation=allocation), data)
    for arm in ("magnitude", "lottery"):
        for plan in planning.plan(arm, 0.5):
            assert_n_of_m(plan.mask.layers, "in_out", 2, 4)
            assert plan.mask.kept() == [16 * 16 // 2, 16 * 8 // 2, 8 * 4 // 2]
    # rounds at 0.2, 0.36, 0.488 for each of 2 seeds, then the ticket at 0.5: survivors only, never
    # below N in a group, and (uniform, where each group's N best fit the layer's count) the allocation's counts
    assert sorted({round(level, 3) for level, _, _ in rounds}) == [0.2, 0.36, 0.488, 0.5]
    shapes = [(16, 16), (16, 8), (8, 4)]
    for level, before, after in rounds:
        assert all(not bool((a & ~b).any()) for a, b in zip(after.layers, before.layers))
        for kept in after.layers:
            assert bool((group_counts(kept, "in_out", 4)[0] >= 2).all())
        if allocation == "uniform" and level < 0.5:
            assert after.kept() == kept_per_layer(shapes, level, "uniform")


@pytest.mark.parametrize("parent", PARENTS)
def test_an_unset_or_unstructured_pattern_leaves_every_mask_and_key_as_it_was(parent, data):
    assignments = {}
    for pattern in (None, "unstructured"):
        planning = Planning(arms_config(parent, pattern, sparsities=(0.5, 0.75)), data)
        assignments[pattern] = {(a.slot, a.key, a.plan.mask.digest()) for a in planning.assignments(Progress())}
        assert {a[0].sparsity for a in assignments[pattern]} == {0.5, 0.75}
    assert assignments[None] == assignments["unstructured"]
    # the arms call the scoring functions as before: magnitude and random by hand
    planning = Planning(arms_config(parent, None, sparsities=(0.5, 0.75)), data)
    trained = planning.cache.trained_parents((0, 1))
    request = planning.request(0.75)
    for seed, plan in enumerate(planning.plan("magnitude", 0.75)):
        expected = mask_from_scores(first(magnitude(one(trained[seed][0]))), 0.75, "global")
        assert all(torch.equal(a, b) for a, b in zip(plan.mask.layers, expected))
    for seed, plan in enumerate(planning.plan("random", 0.75)):
        expected = mask_from_scores(random_scores(request.weight_shapes, request.rng("random", seed)), 0.75, "global")
        assert all(torch.equal(a, b) for a, b in zip(plan.mask.layers, expected))
    assert "pattern" not in planning.peer("magnitude").spec()["params"]
    assert "pattern" not in planning.plan("gmp", 0.75)[0].hook_spec


def test_block_patterns_keep_whole_blocks_in_every_round(data):
    cfg = arms_config("mlp", "block2x4", sparsities=(0.75,), arms=["random", "magnitude", "lottery", "gmp", "synflow"])
    planning = Planning(cfg, data)
    assert {a.slot.sparsity for a in planning.assignments(Progress())} == {0.75}
    for arm in ("random", "magnitude", "lottery", "synflow"):
        for kept in planning.plan(arm, 0.75)[0].mask.layers:
            kept_blocks(rows_view(kept, "in_out"), 2, 4)
    for masks in gmp_masks(planning.plan("gmp", 0.75)[0]):
        for kept in masks:
            kept_blocks(rows_view(kept, "in_out"), 2, 4)


def test_a_pattern_keys_its_trials_apart_and_a_variant_compares_side_by_side(data):
    cfg = config_from_dict({
        "experiment": {"name": "side", "seeds": 1}, "data": {"name": "synthetic", "samples": 240},
        "parent": {"hidden": [16, 8]}, "train": {"epochs": 2, "batch_size": 48},
        "search": {"space": "weight", "sparsities": [0.5, 0.75], "arms": ["magnitude", "magnitude_24", "magnitude_b4"]},
        "arms": {"magnitude_24": {"arm": "magnitude", "pattern": "2:4"},
                 "magnitude_b4": {"arm": "magnitude", "pattern": "block4x4"}},
    })
    planning = Planning(cfg, data)
    slots = {(a.slot.arm, a.slot.sparsity): a for a in planning.assignments(Progress())}
    assert set(slots) == {("magnitude", 0.5), ("magnitude", 0.75), ("magnitude_24", 0.5), ("magnitude_b4", 0.5),
                          ("magnitude_b4", 0.75)}
    assert slots[("magnitude_24", 0.5)].spec.arm == {"name": "magnitude", "params": {"rewind": "finetune", "pattern": "2:4"}}
    assert len({slots[(arm, 0.5)].key for arm in ("magnitude", "magnitude_24", "magnitude_b4")}) == 3


# --- refusals: one line, before the store -------------------------------------------------

WEIGHT = {"space": "weight", "sparsities": [0.75, 0.9]}
REFUSALS = {
    "2:4 where the sparsities lack 0.5": (
        run_with(search={**WEIGHT, "arms": ["dense", "magnitude_24"]},
                 arms={"magnitude_24": {"arm": "magnitude", "pattern": "2:4"}}),
        'arms.magnitude_24.pattern: "2:4" keeps 2 of every 4 weights (sparsity 0.5), but search.sparsities '
        "[0.75, 0.9] does not list 0.5"),
    "gmp 1:4 where the sparsities lack 0.75": (
        run_with(search={**WEIGHT, "sparsities": [0.5], "arms": ["gmp"]}, arms={"gmp": {"pattern": "1:4"}}),
        'arms.gmp.pattern: "1:4" keeps 1 of every 4 weights (sparsity 0.75), but search.sparsities [0.5] does not '
        "list 0.75"),
    "a lottery control of a 2:4 ticket (lottery not listed)": (
        run_with(search={**WEIGHT, "arms": ["lottery_random"]}, arms={"lottery": {"pattern": "2:4"}}),
        'arms.lottery.pattern: "2:4" keeps 2 of every 4 weights (sparsity 0.5), but search.sparsities [0.75, 0.9] '
        "does not list 0.5"),
    "shuffle of a 2:4 snip": (
        run_with(search={**WEIGHT, "arms": ["shuffle"]}, arms={"snip": {"pattern": "2:4"}}),
        'arms.snip.pattern: "2:4" keeps 2'),
    "a pattern in the node space": (
        run_with(search={"arms": ["dense", "magnitude"]}, arms={"magnitude": {"pattern": "block4x4"}}),
        'arms.magnitude.pattern: "block4x4" groups weights, not units; with search.space = "node" leave it unset '
        '(or "unstructured")'),
    "a pattern of the wrong type": (
        run_with(search={**WEIGHT, "arms": ["snip"]}, arms={"snip": {"pattern": 24}}),
        "arms.snip.pattern: Input should be a valid string"),
    "a pattern on an arm without one": (
        run_with(search={**WEIGHT, "arms": ["lottery_reinit"]}, arms={"lottery_reinit": {"pattern": "2:4"}}),
        "arms.lottery_reinit.pattern: unknown setting; lottery_reinit takes: none"),
    **{f"pattern {bad!r}": (
        run_with(search={**WEIGHT, "arms": ["random"]}, arms={"random": {"pattern": bad}}),
        f"arms.random.pattern: must be \"unstructured\", \"N:M\" with 1 <= N < M (e.g. \"2:4\") or \"blockRxC\" with "
        f"R, C >= 1 (e.g. \"block4x4\"), got {bad!r}") for bad in ("3:2", "0:4", "2:4:1", "block0x4", "blk4")},
    "config --check of a 2:4 arm": (
        check_with(search={**WEIGHT, "arms": ["synflow"]}, arms={"synflow": {"pattern": "2:4"}}),
        'arms.synflow.pattern: "2:4" keeps 2 of every 4 weights'),
}


@pytest.mark.parametrize("case, message", REFUSALS.values(), ids=REFUSALS.keys())
def test_a_pattern_that_cannot_run_is_one_line_exit_2_and_the_store_unchanged(case, message, tmp_path, finished_store):
    line = _refused(case, tmp_path, finished_store)
    assert line.startswith("error: c.toml: " + message) or line.startswith("error: " + message), line


def test_the_api_refuses_before_any_training(data):
    with pytest.raises(SparsearchError, match=r'^arms.grasp.pattern: "2:4" keeps 2 of every 4 weights \(sparsity 0.5\), '
                                              r"but search.sparsities \[0.9\] does not list 0.5$"):
        validate(arms_config("mlp", "2:4", sparsities=(0.9,), arms=["grasp"]))


# --- end to end ---------------------------------------------------------------------------

def run_config(arms):
    return toml(experiment={"name": "nm", "seeds": 2}, parent={"hidden": [16, 8]},
                train={"epochs": 2, "batch_size": 40}, search={"space": "weight", "sparsities": [0.5, 0.75], "arms": arms},
                arms={"magnitude_24": {"arm": "magnitude", "pattern": "2:4"}})


@pytest.mark.slow
def test_a_run_compares_2_4_magnitude_beside_unstructured_magnitude(tmp_path):
    (tmp_path / "c.toml").write_text(run_config(["dense", "random", "magnitude", "magnitude_24"]))
    store = str(tmp_path / "s.db")
    result = sparsearch("run", str(tmp_path / "c.toml"), "--store", store, "--quiet", "--report", str(tmp_path / "r"))
    assert result.returncode == 0, result.stderr
    assert "magnitude_24" in result.stdout and (tmp_path / "r" / "index.html").is_file()
    exported = sparsearch("export", "--store", store, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert sorted({(r["arm"], r["sparsity"]) for r in rows}) == [
        ("dense", "0.0"), ("magnitude", "0.5"), ("magnitude", "0.75"), ("magnitude_24", "0.5"), ("random", "0.5"),
        ("random", "0.75")]
    for r in rows:
        assert r["status"] == "ok"
        if r["arm"] == "magnitude_24":  # every row of every layer divides into groups of 4: exactly half kept
            assert float(r["weight_sparsity"]) == 0.5
    # the unstructured arm's trials are those of a run without the 2:4 variant
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "c.toml").write_text(run_config(["dense", "random", "magnitude"]))
    again = sparsearch("run", str(alone / "c.toml"), "--store", str(alone / "s.db"), "--quiet")
    assert again.returncode == 0, again.stderr
    keys = list(csv.DictReader(io.StringIO(sparsearch("export", "--store", str(alone / "s.db"), "--format", "csv").stdout)))
    assert {r["trial_key"] for r in keys} == {r["trial_key"] for r in rows if r["arm"] != "magnitude_24"}
