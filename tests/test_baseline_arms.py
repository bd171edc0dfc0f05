"""The pruning baselines as arms of one experiment: exact sparsities, controls built right."""

import pytest
import torch

from sparsearch.arms import ARMS, MaskRequest
from sparsearch.arms.base import arm_stream
from sparsearch.arms.training import trained_parent
from sparsearch.config import config_from_dict
from sparsearch.data import load_dataset
from sparsearch.errors import SparsearchError
from sparsearch.experiment import run_experiment
from sparsearch.nets.mlp import init_parent, parent_widths
from sparsearch.pruning import magnitude_scores, mask_from_scores, snip_scores
from sparsearch.store import Store

WEIGHT_ARMS = ["dense", "random", "magnitude", "lottery", "lottery_reinit", "lottery_random", "gmp", "snip", "grasp",
               "synflow", "shuffle"]


def config(**search):
    return config_from_dict({
        "experiment": {"name": "baselines", "seeds": 2},
        "data": {"name": "synthetic", "samples": 300},
        "parent": {"hidden": [16, 8]},
        "train": {"epochs": 4, "batch_size": 32},
        "search": {"space": "weight", "sparsities": [0.5, 0.9], "arms": WEIGHT_ARMS, "synflow_iterations": 10,
                   **search},
    })


def request(cfg, data, arm, sparsity, seed=0, cache=None):
    widths = parent_widths(data.n_features, cfg.parent.hidden, data.n_classes)
    return MaskRequest(cfg, data, widths, init_parent(widths, seed), seed, sparsity, arm_stream(arm, seed, sparsity),
                       cache if cache is not None else {})


@pytest.mark.parametrize("allocation", ["global", "uniform", "erk"])
def test_every_arm_trains_at_exactly_its_target_sparsity(allocation):
    cfg = config(allocation=allocation)
    store = Store(":memory:", write=True)
    rows = run_experiment(cfg, load_dataset(cfg.data), store).rows
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
    cfg = config(sparsities=[0.15], prune_rate=0.2)
    cache = {}
    ticket = ARMS["lottery"].plan(request(cfg, synthetic, "lottery", 0.15, cache=cache))
    trained, _ = trained_parent(request(cfg, synthetic, "magnitude", 0.15, cache=cache))
    expected = mask_from_scores(magnitude_scores(trained), 0.15, "global")
    assert all(torch.equal(a, b) for a, b in zip(ticket.mask.layers, expected))
    assert ticket.start_spec == {"init": 0}


def test_lottery_controls_keep_the_ticket_mask_or_its_layer_counts(synthetic):
    cfg = config(sparsities=[0.5])
    cache = {}
    ticket = ARMS["lottery"].plan(request(cfg, synthetic, "lottery", 0.5, cache=cache))
    reinit = ARMS["lottery_reinit"].plan(request(cfg, synthetic, "lottery_reinit", 0.5, cache=cache))
    rand = ARMS["lottery_random"].plan(request(cfg, synthetic, "lottery_random", 0.5, cache=cache))
    assert reinit.mask.digest() == ticket.mask.digest()
    assert not torch.equal(reinit.start[0][0], ticket.start[0][0])
    assert rand.mask.kept() == ticket.mask.kept() and rand.mask.digest() != ticket.mask.digest()
    assert torch.equal(rand.start[0][0], ticket.start[0][0])


def test_lottery_rewinds_to_the_parent_after_k_epochs(synthetic):
    cfg = config(sparsities=[0.5], rewind_epoch=2)
    cache = {}
    plan = ARMS["lottery"].plan(request(cfg, synthetic, "lottery", 0.5, cache=cache))
    _, at_epoch_2 = trained_parent(request(cfg, synthetic, "lottery", 0.5, cache={}), snapshot_epoch=2)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(plan.start, at_epoch_2))
    assert plan.start_spec == {"trained_parent": 0, "epochs": 2}


def test_shuffle_keeps_each_layers_count_of_the_source_mask(synthetic):
    cfg = config(sparsities=[0.9], shuffle_of="snip")
    snip = ARMS["snip"].plan(request(cfg, synthetic, "snip", 0.9))
    shuffled = ARMS["shuffle"].plan(request(cfg, synthetic, "shuffle", 0.9))
    assert shuffled.mask.kept() == snip.mask.kept() and shuffled.mask.digest() != snip.mask.digest()


def test_node_space_magnitude_and_snip_keep_the_units_with_the_largest_summed_scores(synthetic):
    cfg = config_from_dict({
        "data": {"name": "synthetic", "samples": 300}, "parent": {"hidden": [16, 8]}, "train": {"epochs": 2},
        "search": {"space": "node", "sparsities": [0.5], "arms": ["magnitude", "snip"], "rewind": "init"},
    })
    cache = {}
    magnitude = ARMS["magnitude"].plan(request(cfg, synthetic, "magnitude", 0.5, cache=cache))
    trained, _ = trained_parent(request(cfg, synthetic, "magnitude", 0.5, cache=cache))
    for layer, (w, _) in enumerate(trained[:-1]):
        expected = torch.topk(w.abs().sum(0), w.shape[1] // 2).indices.sort().values.tolist()
        assert list(magnitude.mask.keep[layer]) == expected
    assert magnitude.start_spec == {"init": 0}
    req = request(cfg, synthetic, "snip", 0.5)
    snip = ARMS["snip"].plan(req)
    scores = snip_scores(req.parent, *req.probe_batch())
    assert list(snip.mask.keep[1]) == torch.topk(scores[1].sum(0), 4).indices.sort().values.tolist()


def test_configs_that_do_not_fit_are_one_line_errors():
    with pytest.raises(SparsearchError, match="'lottery' works in space 'weight' only; set search.space"):
        config_from_dict({"search": {"arms": ["lottery"]}})
    with pytest.raises(SparsearchError, match="random_search' works in space 'node' only"):
        config_from_dict({"search": {"space": "weight", "arms": ["random_search"]}})
    with pytest.raises(SparsearchError, match="search.rewind_epoch: 30 must be below train.epochs"):
        config_from_dict({"search": {"space": "weight", "arms": ["lottery"], "rewind_epoch": 30}})
    with pytest.raises(SparsearchError, match="search.allocation: allowed:"):
        config_from_dict({"search": {"allocation": "layerwise"}})
