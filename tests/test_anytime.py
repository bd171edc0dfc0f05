"""The comparison at equal budget: each search's anytime trajectory (best validation accuracy
seen against search cost) by hand for the oracle, successive halving and evolution, its
export, and the report's anytime figure and gains table (shares of the oracle's gain and cost)."""

import csv
import io
import re
from html import unescape

import pytest
from typer.testing import CliRunner

from sparsearch.api import run
from sparsearch.arms.random_search import candidate_masks, trained_candidates
from sparsearch.cli import app
from sparsearch.config import config_from_dict
from sparsearch.mask.study import Planning

EPOCHS = 9
ARMS = {"oracle": {"candidates": 9}, "successive_halving": {"candidates": 9},
        "evolution": {"population": 4, "children": 2, "sample": 2, "evaluations": 8, "fitness_epochs": 3}}


def config(seeds=2, arms=("dense", "random", *ARMS)):
    return config_from_dict({
        "experiment": {"name": "anytime", "seeds": seeds},
        "data": {"name": "synthetic", "samples": 300},
        "parent": {"hidden": [16, 8]},
        "train": {"epochs": EPOCHS, "batch_size": 32},
        "search": {"space": "node", "sparsities": [0.5], "arms": list(arms)},
        "arms": ARMS,
    })


def test_each_search_s_trajectory_by_hand(synthetic):
    planning = Planning(config(), synthetic)
    request = planning.request(0.5)
    ratio = planning.cache.flops_ratio(candidate_masks(request, 0, 1)[0])
    masks = {seed: candidate_masks(request, seed, 9) for seed in (0, 1)}
    metrics = trained_candidates(request, masks, "candidates")
    for seed, plan in enumerate(planning.plan("oracle", 0.5)):
        val = [m["best_val_acc"] for m in metrics[seed]]
        expected = [((k + 1) * EPOCHS * ratio, max(val[: k + 1])) for k in range(9)]
        assert [c for c, _ in plan.anytime] == pytest.approx([c for c, _ in expected])
        assert [a for _, a in plan.anytime] == [a for _, a in expected]
        assert plan.anytime[-1][0] == pytest.approx(plan.search.epochs)
    for seed, plan in enumerate(planning.plan("successive_halving", 0.5)):
        # rungs: 9 candidates to epoch 1, 3 on to epoch 3, 1 on to epoch 9
        assert [c for c, _ in plan.anytime] == pytest.approx([9 * ratio, 15 * ratio, 21 * ratio])
        seen = [a for _, a in plan.anytime]
        assert seen == sorted(seen) and seen[-1] <= max(m["best_val_acc"] for m in metrics[seed])
    for plan in planning.plan("evolution", 0.5):
        # the initial population of 4, then generations of 2 children, each trained 3 epochs
        assert [c for c, _ in plan.anytime] == pytest.approx([4 * 3 * ratio, 6 * 3 * ratio, 8 * 3 * ratio])


def _section(page: str, anchor: str) -> list[list[str]]:
    body = page[page.index(f'id="{anchor}"'):]
    body = body[: body.index("</section>")]
    return [[unescape(re.sub("<[^>]+>", "", cell)) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", body)]


def test_the_report_shows_searches_at_equal_budget_and_export_writes_their_steps(tmp_path):
    path = tmp_path / "s.db"
    study = run(config(seeds=3), store=path)
    index = study.report(tmp_path / "report")
    assert (tmp_path / "report" / "anytime.png").exists()
    page = index.read_text()
    gains = _section(page, "gains")
    header, rows = gains[0], {row[1]: row for row in gains[1:]}
    assert header[-2:] == ["share of oracle's gain", "share of oracle's cost"]
    assert set(rows) == {"oracle", "successive_halving", "evolution"}
    costs = {r["arm"]: r["search_cost"] for r in study.trials().to_dict("records")}
    assert float(rows["successive_halving"][6]) == pytest.approx(costs["successive_halving"], rel=1e-2)
    assert rows["successive_halving"][8] == f"{costs['successive_halving'] / costs['oracle']:.1%}"
    assert rows["oracle"][8] == "100.0%"
    result = CliRunner().invoke(app, ["export", "--anytime", "--experiment", "anytime", "--store", str(path)])
    assert result.exit_code == 0, result.output
    steps = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {s["arm"] for s in steps} == set(ARMS) and len(steps) == 3 * (9 + 3 + 3)


def test_a_budget_stops_each_search_at_that_many_dense_parent_epochs(synthetic):
    probe = Planning(config(), synthetic)
    ratio = probe.cache.flops_ratio(candidate_masks(probe.request(0.5), 0, 1)[0])
    n = synthetic.x_train.shape[0]
    each_probe = min(256, n) / (3 * n) * ratio  # init_loss: one forward pass over the probe batch
    budgets = {"oracle": {"candidates": 9, "budget": 3.5 * EPOCHS * ratio},
               "successive_halving": {"candidates": 9, "budget": 15 * ratio},
               "evolution": {**ARMS["evolution"], "budget": 5.5 * 3 * ratio},
               "random_search": {"candidates": 9, "budget": 2.5 * each_probe}}
    planning = Planning(config_from_dict({**config().model_dump(mode="json", exclude_none=True), "arms": budgets}),
                        synthetic)
    unlimited = Planning(config(), synthetic)
    request = planning.request(0.5)
    metrics = trained_candidates(request, {seed: candidate_masks(request, seed, 3) for seed in (0, 1)}, "first three")
    for seed, plan in enumerate(planning.plan("oracle", 0.5)):  # the first 3 candidates fit
        val = [m["best_val_acc"] for m in metrics[seed]]
        assert plan.mask == candidate_masks(request, seed, 3)[val.index(max(val))]
        assert len(plan.anytime) == 3 and plan.search.epochs == pytest.approx(3 * EPOCHS * ratio)
    # successive halving: 9 candidates cost 9 + 3 * 2 + 6 = 21 network-epochs, 5 cost 5 + 1 * 2 + 6 = 13 (6 cost 16)
    assert [p.search.epochs for p in planning.plan("successive_halving", 0.5)] == pytest.approx([13 * ratio] * 2)
    # evolution: 5 evaluations of 3 epochs fit: the population of 4, then one child
    assert [len(p.anytime) for p in planning.plan("evolution", 0.5)] == [2, 2]
    assert [p.search.epochs for p in planning.plan("evolution", 0.5)] == pytest.approx([5 * 3 * ratio] * 2)
    # random search: 2 probes fit
    assert [p.search.epochs for p in planning.plan("random_search", 0.5)] == pytest.approx([2 * each_probe] * 2)
    assert planning.plan("random_search", 0.5)[0].search.epochs < unlimited.plan("random_search", 0.5)[0].search.epochs


def test_a_budget_with_hyperband_is_a_one_line_error():
    from sparsearch.errors import SparsearchError
    from sparsearch.mask.study import validate

    with pytest.raises(SparsearchError, match=r"^arms.successive_halving: budget applies to plain successive halving"):
        validate(config_from_dict({"search": {"arms": ["successive_halving"]},
                                   "arms": {"successive_halving": {"hyperband": True, "budget": 10.0}}}))
