"""Search cost (arms/training.py `Spend`, analysis/search_cost.py): what choosing each trial's
mask spent in dense-parent epochs, by hand for every kind of arm (trained parents, lottery
rounds, candidate trainings, probe passes), counted for every arm that uses a training even
when the store reuses it, with the seconds recorded when it ran; and stable across reruns."""

import pytest

from sparsearch.api import run
from sparsearch.config import config_from_dict
from sparsearch.mask.study import Planning
from sparsearch.progress import Progress
from sparsearch.store import Store

EPOCHS, PROBE_BATCH, K = 3, 40, 4


def config(space="node", arms=(), settings=None, name="costs", sparsities=(0.5,)):
    return config_from_dict({
        "experiment": {"name": name, "seeds": 2},
        "data": {"name": "synthetic", "samples": 300},
        "parent": {"hidden": [16, 8]},
        "train": {"epochs": EPOCHS, "batch_size": 32},
        "search": {"space": space, "sparsities": list(sparsities), "arms": list(arms), "probe_batch": PROBE_BATCH,
                   **({"allocation": "global"} if space == "weight" else {})},
        "arms": settings or {},
    })


def costs(cfg, synthetic, store=None) -> dict[tuple[str, float], list[float]]:
    assignments = Planning(cfg, synthetic, store).assignments(Progress())
    out: dict = {}
    for a in assignments:
        out.setdefault((a.slot.arm, a.slot.sparsity), []).append(a.search.epochs)
    return out


def test_node_arms_spend_their_trainings_and_probe_passes(synthetic):
    settings = {"random_search": {"candidates": K}, "oracle": {"candidates": K},
                "rs_steps": {"arm": "random_search", "candidates": K, "probe": "steps", "probe_steps": 2},
                "rs_early": {"arm": "random_search", "candidates": K, "probe": "early", "early_epochs": 1}}
    arms = ["dense", "random", "magnitude", "snip", "l1_norm", "taylor", "fpgm", *settings]
    found = costs(config(arms=arms, settings=settings), synthetic)
    n, n_val = synthetic.x_train.shape[0], synthetic.x_val.shape[0]
    widths, kept = (synthetic.n_features, 16, 8, synthetic.n_classes), (synthetic.n_features, 8, 4, synthetic.n_classes)
    ratio = sum(a * b for a, b in zip(kept, kept[1:])) / sum(a * b for a, b in zip(widths, widths[1:]))
    expected = {
        "dense": 0.0, "random": 0.0,
        "magnitude": EPOCHS, "l1_norm": EPOCHS, "fpgm": EPOCHS,
        "snip": PROBE_BATCH / n,  # one forward and backward pass over the probe batch, dense
        "taylor": EPOCHS + PROBE_BATCH / n,
        "random_search": K * PROBE_BATCH / (3 * n) * ratio,  # a forward pass per candidate, each at its FLOPs
        "oracle": K * EPOCHS * ratio,
        "rs_steps": K * (2 * 32 + PROBE_BATCH / 3) / n * ratio,
        "rs_early": K * (1 + n_val / (3 * n)) * ratio,
    }
    for arm, cost in expected.items():
        sparsity = 0.0 if arm == "dense" else 0.5
        assert found[(arm, sparsity)] == pytest.approx([cost, cost], rel=1e-12), arm


def test_weight_arms_spend_their_parent_rounds_and_passes_and_controls_spend_the_ticket_s(synthetic):
    arms = ["random", "gmp", "magnitude", "lottery", "lottery_reinit", "lottery_random", "snip", "grasp", "synflow",
            "shuffle"]
    settings = {"lottery": {"prune_rate": 0.5}, "synflow": {"iterations": 5}}
    found = costs(config("weight", arms, settings, sparsities=(0.8,)), synthetic)
    n = synthetic.x_train.shape[0]
    widths = (synthetic.n_features, 16, 8, synthetic.n_classes)
    total = sum(a * b for a, b in zip(widths, widths[1:]))
    # rounds train at 0.5 and 0.75 (the next, 0.875, passes 0.8: the last trained weights are pruned to it)
    rounds = sum((total - round(s * total)) / total for s in (0.5, 0.75))
    ticket = EPOCHS * (1 + rounds)
    expected = {"random": 0.0, "gmp": 0.0, "magnitude": EPOCHS, "lottery": ticket, "lottery_reinit": ticket,
                "lottery_random": ticket, "snip": PROBE_BATCH / n, "grasp": 2 * PROBE_BATCH / n,
                "synflow": 5 / n, "shuffle": PROBE_BATCH / n}
    for arm, cost in expected.items():
        assert found[(arm, 0.8)] == pytest.approx([cost, cost], rel=1e-12), arm


def test_a_reused_training_counts_as_when_it_ran_and_a_rerun_keeps_every_cost(tmp_path):
    path = tmp_path / "s.db"
    first = run(config(arms=["magnitude", "l1_norm"]), store=path).outcome.rows
    assert {r["search_cost"] for r in first} == {float(EPOCHS)}
    seconds = {r["seed"]: r["search_seconds"] for r in first if r["arm"] == "magnitude"}
    assert all(s > 0 for s in seconds.values())
    with Store.open(path) as store:  # the trained parents' own seconds, stored beside them
        recorded = sorted(store.shared("training_seconds").values())
    assert len(recorded) == 2
    # another experiment reuses the stored parents: it trains none, and is charged their epochs and seconds
    second = run(config(arms=["fpgm"], name="later"), store=path)
    assert second.outcome.pretrained == 0
    rows = second.outcome.rows
    assert [r["search_cost"] for r in rows] == [EPOCHS, EPOCHS]
    assert sum(r["search_seconds"] for r in rows) >= sum(recorded)  # each seed's parent, plus scoring
    again = run(config(arms=["magnitude", "l1_norm"]), store=path).outcome
    assert again.trained == 0 and again.rows == first


def test_comparisons_carry_the_arm_s_mean_search_cost_and_its_verdict_says_it():
    from sparsearch.analysis.paired import compare

    rows = [{"sparsity": 0.5, "arm": arm, "seed": seed, "test_acc": acc, "epochs_to_target": 3,
             "epochs_to_dense_target": None, "search_cost": cost}
            for seed in range(6)
            for arm, acc, cost in (("random", 0.80 + 0.01 * seed, 0.0), ("oracle", 0.83 + 0.011 * seed, 30.0 + seed))]
    (c,) = [c for c in compare(rows) if c.metric == "test_acc"]
    assert (c.arm, c.baseline, c.search_cost) == ("oracle", "random", pytest.approx(32.5))
    assert c.verdict.endswith(", n = 6, search cost 32.5 dense-parent epochs)")
    rows[-1]["search_cost"] = None  # one seed not recorded: no mean claimed
    (c,) = [c for c in compare(rows) if c.metric == "test_acc"]
    assert c.search_cost is None and "search cost" not in c.verdict
