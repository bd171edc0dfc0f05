"""The pruning baselines as arms of one experiment: exact sparsities, controls built right."""

import pytest
import torch

from conftest import Recording
from sparsearch.api import run
from sparsearch.arms.gmp import GradualMagnitude, event_steps
from sparsearch.config import config_from_dict
from sparsearch.engine.trainer import Trainer
from sparsearch.errors import SparsearchError
from sparsearch.mask.study import Planning, validate
from sparsearch.nets.base import stacked
from sparsearch.pruning import mask_from_scores
from sparsearch import saliency
from sparsearch.saliency import first, magnitude, one
from sparsearch.seeding import stable_seed
from sparsearch.store import Store

WEIGHT_ARMS = ["dense", "random", "magnitude", "lottery", "lottery_reinit", "lottery_random", "gmp", "snip", "grasp",
               "synflow", "shuffle"]


def config(arms=None, seeds=2, **search):
    return config_from_dict({
        "experiment": {"name": "baselines", "seeds": seeds},
        "data": {"name": "synthetic", "samples": 300},
        "parent": {"hidden": [16, 8]},
        "train": {"epochs": 4, "batch_size": 32},
        "search": {"space": "weight", "sparsities": [0.5, 0.9], "arms": WEIGHT_ARMS, **search},
        "arms": {"synflow": {"iterations": 10}, **(arms or {})},
    })


@pytest.mark.parametrize("allocation", ["global", "uniform", "erk"])
def test_every_arm_trains_at_exactly_its_target_sparsity(allocation):
    cfg = config(allocation=allocation)
    rows = run(cfg, store=Store(":memory:", write=True)).outcome.rows
    assert {r["arm"] for r in rows} == set(WEIGHT_ARMS) and len(rows) == 2 + 2 * 2 * (len(WEIGHT_ARMS) - 1)
    total = 16 * 16 + 16 * 8 + 8 * 4
    for r in rows:
        assert r["status"] == "ok"
        kept = round((1 - r["weight_sparsity"]) * total)
        if allocation == "global" or r["arm"] == "dense":
            assert kept == total - round(r["sparsity"] * total), r["arm"]
        else:
            assert abs(kept - (1 - r["sparsity"]) * total) <= 3, r["arm"]  # per-layer rounding, 3 layers


def test_one_round_lottery_ticket_is_one_shot_magnitude_of_the_trained_parent(synthetic):
    planning = Planning(config(sparsities=[0.15], arms={"lottery": {"prune_rate": 0.2}}), synthetic)
    tickets = planning.plan("lottery", 0.15)
    parents = planning.cache.trained_parents((0, 1))
    for seed, ticket in enumerate(tickets):
        expected = mask_from_scores(first(magnitude(one(parents[seed][0]))), 0.15, "global")
        assert all(torch.equal(a, b) for a, b in zip(ticket.mask.layers, expected))
        assert ticket.start_spec == {"init": seed}


def test_lottery_controls_keep_the_ticket_mask_or_its_layer_counts(synthetic):
    planning = Planning(config(sparsities=[0.5]), synthetic)
    for ticket, reinit, rand in zip(*(planning.plan(arm, 0.5) for arm in ("lottery", "lottery_reinit", "lottery_random"))):
        assert reinit.mask.digest() == ticket.mask.digest()
        assert not torch.equal(reinit.start[0][0], ticket.start[0][0])
        assert rand.mask.kept() == ticket.mask.kept() and rand.mask.digest() != ticket.mask.digest()
        assert torch.equal(rand.start[0][0], ticket.start[0][0])


def test_lottery_rewinds_to_the_parent_after_k_epochs(synthetic):
    planning = Planning(config(sparsities=[0.5], arms={"lottery": {"rewind_epoch": 2}}), synthetic)
    plans = planning.plan("lottery", 0.5)
    fresh = Planning(config(sparsities=[0.5]), synthetic).cache.trained_parents((0, 1), snapshot_epoch=2)
    for seed, plan in enumerate(plans):
        assert all(torch.equal(a[0], b[0]) for a, b in zip(plan.start, fresh[seed][1]))
        assert plan.start_spec == {"trained_parent": seed, "epochs": 2}


def test_lottery_controls_start_where_the_ticket_does_with_its_budget_under_rewinding(synthetic):
    cfg = config(sparsities=[0.5], arms={"lottery": {"rewind_epoch": 2}})
    planning = Planning(cfg, synthetic)
    tickets, reinits, randoms = (planning.plan(arm, 0.5) for arm in ("lottery", "lottery_reinit", "lottery_random"))
    two_epochs = Trainer(planning.trainer.parent, synthetic, cfg.train.model_copy(update={"epochs": 2}))
    for seed, (ticket, reinit, rand) in enumerate(zip(tickets, reinits, randoms)):
        # random pruning: the ticket's rewound weights (dense parent after 2 epochs), then 4 epochs
        assert rand.start_spec == ticket.start_spec == {"trained_parent": seed, "epochs": 2}
        assert all(torch.equal(a, b) for r, t in zip(rand.start, ticket.start) for a, b in zip(r, t))
        # reinit: a fresh initialisation trained dense the same 2 epochs in the seed's order, then 4
        fresh = stable_seed("reinit", seed)
        assert reinit.start_spec == {"init": fresh, "trained_epochs": 2}
        alone = two_epochs.train(stacked([planning.trainer.parent.init(fresh)]), [seed], evaluate_epochs=False)
        assert all(torch.equal(a[0], w) and torch.equal(b[0], c) for (a, b), (w, c) in zip(alone.final, reinit.start))


def test_lottery_rounds_of_every_seed_train_as_one_population(synthetic):
    planning = Planning(config(sparsities=[0.5], seeds=3), synthetic)
    sizes, train = [], planning.trainer.train

    def counting(layers, seeds, **options):
        sizes.append(len(seeds))
        return train(layers, seeds, **options)

    object.__setattr__(planning.trainer, "train", counting)  # the trainer is a frozen dataclass
    planning.plan("lottery", 0.5)
    rounds = 1 + 3  # the trained parents, then rounds at 0.2, 0.36 and 0.488 before the 0.5 ticket
    assert sizes == [3] * rounds


def test_gmp_prunes_last_at_its_end_step_in_a_short_run(synthetic):
    # 4 epochs x 8 steps = 32 steps; end = 0.3125 x 32 = step 10; 3 events at ceil(10 k / 3) = 4, 7, 10
    planning = Planning(config(sparsities=[0.9], arms={"gmp": {"start": 0.0, "end": 0.3125, "events": 3}}), synthetic)
    plan = planning.plan("gmp", 0.9)[0]
    weights, masks = [w for w, _ in plan.start], list(plan.mask.layers)
    pruned = {}
    for step in range(1, 33):
        new = plan.hook(step, [w * m for w, m in zip(weights, masks)], masks)
        if new is not None:
            masks = new
            pruned[step] = sum(int(m.sum()) for m in masks)
    # 416 weights; s_k = 0.9 (1 - (1 - k/3)^3) removes round(416 s_k) = 263, 361, 374
    assert pruned == {4: 416 - 263, 7: 416 - 361, 10: 416 - 374}
    # more events than steps: ceil(2 k / 3) = 1, 2, 2; step 2 prunes to the last event's (final) sparsity
    hook = GradualMagnitude(0.9, "global", event_steps(0, 2, 3))
    assert hook.steps == (1, 2, 2)
    masks = hook(2, weights, list(plan.mask.layers))
    assert sum(int(m.sum()) for m in masks) == 416 - 374


def test_lottery_rounds_and_trained_parents_advance_phases_of_their_own_while_arms_plan(synthetic):
    progress = Recording()
    cfg = config(sparsities=[0.5])
    cfg = cfg.model_copy(update={"search": cfg.search.model_copy(update={"arms": ["magnitude", "lottery", "lottery_random"]})})
    Planning(cfg, synthetic, progress=progress).assignments(progress)
    epochs = 2 * 4  # 2 seeds x 4 epochs per training; rounds at 0.2, 0.36, 0.488 before the 0.5 ticket
    assert progress.phases == [
        ["trained parents", epochs, epochs], ["planning magnitude", 2, 2],
        ["lottery round 2", epochs, epochs], ["lottery round 3", epochs, epochs], ["lottery round 4", epochs, epochs],
        ["planning lottery", 2, 2], ["planning lottery_random", 2, 2],
    ]
    # an arm that trains at every sparsity: its planning phase reopens with what remains after each
    progress = Recording()
    cfg = config_from_dict({**cfg.model_dump(), "search": {"space": "node", "sparsities": [0.25, 0.5], "arms": ["oracle"]},
                            "arms": {"oracle": {"candidates": 2}}})
    Planning(cfg, synthetic, progress=progress).assignments(progress)
    candidates = 2 * 2 * 4  # 2 seeds x 2 candidates x 4 epochs
    assert progress.phases == [["oracle at 0.25", candidates, candidates], ["planning oracle", 4, 2],
                               ["oracle at 0.5", candidates, candidates], ["planning oracle", 2, 2]]


def test_shuffle_keeps_each_layers_count_of_the_source_mask(synthetic):
    planning = Planning(config(sparsities=[0.9], arms={"shuffle": {"of": "snip"}}), synthetic)
    for snip, shuffled in zip(planning.plan("snip", 0.9), planning.plan("shuffle", 0.9)):
        assert shuffled.mask.kept() == snip.mask.kept() and shuffled.mask.digest() != snip.mask.digest()


def test_node_space_magnitude_and_snip_keep_the_units_with_the_largest_summed_scores(synthetic):
    cfg = config_from_dict({
        "data": {"name": "synthetic", "samples": 300}, "parent": {"hidden": [16, 8]}, "train": {"epochs": 2},
        "experiment": {"seeds": 1},
        "search": {"space": "node", "sparsities": [0.5], "arms": ["magnitude", "snip"]},
        "arms": {"magnitude": {"rewind": "init"}},
    })
    planning = Planning(cfg, synthetic)
    (magnitude,) = planning.plan("magnitude", 0.5)
    trained, _ = planning.cache.trained_parents((0,))[0]
    for layer, (w, _) in enumerate(trained[:-1]):
        expected = torch.topk(w.abs().sum(0), w.shape[1] // 2).indices.sort().values.tolist()
        assert list(magnitude.mask.keep[layer]) == expected
    assert magnitude.start_spec == {"init": 0}
    (snip,) = planning.plan("snip", 0.5)
    probe_batch = planning.request(0.5).probe_data(0)
    scores = first(saliency.snip(planning.trainer.parent, one(planning.cache.parent(0)), *probe_batch))
    assert list(snip.mask.keep[1]) == torch.topk(scores[1].sum(0), 4).indices.sort().values.tolist()


def test_configs_that_do_not_fit_are_one_line_errors():
    with pytest.raises(SparsearchError, match="'lottery' works in space 'weight' only; set search.space"):
        validate(config_from_dict({"search": {"arms": ["lottery"]}}))
    with pytest.raises(SparsearchError, match="random_search' works in space 'node' only"):
        validate(config_from_dict({"search": {"space": "weight", "arms": ["random_search"]}}))
    with pytest.raises(SparsearchError, match=r"^arms.lottery.rewind_epoch: 30 must be below train.epochs \(30\)$"):
        validate(config_from_dict({"search": {"space": "weight", "arms": ["lottery"]},
                                   "arms": {"lottery": {"rewind_epoch": 30}}}))
    with pytest.raises(SparsearchError, match="search.allocation: allowed:"):
        config_from_dict({"search": {"allocation": "layerwise"}})
    with pytest.raises(SparsearchError, match=r"^search.arms: unknown arm 'lotery'; known: dense, evolution, fpgm, gmp, grasp, "):
        validate(config_from_dict({"search": {"arms": ["lotery"]}}))
    with pytest.raises(SparsearchError, match=r"^arms.gmp: start \(0.8\) must be below end \(0.75\)$"):
        validate(config_from_dict({"search": {"space": "weight", "arms": ["gmp"]}, "arms": {"gmp": {"start": 0.8}}}))


@pytest.mark.parametrize("old, new", [
    ("prune_rate", "[arms.lottery] prune_rate"), ("candidates", "[arms.random_search] candidates"),
    ("gmp_events", "[arms.gmp] events"), ("shuffle_of", "[arms.shuffle] of"), ("widths", "[supernet] widths"),
])
def test_an_old_flat_search_key_names_its_new_place(old, new):
    with pytest.raises(SparsearchError, match=rf"^search: '{old}' moved to \{new}"):
        config_from_dict({"search": {old: 1}})
