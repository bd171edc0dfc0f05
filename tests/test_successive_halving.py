"""`successive_halving` (arms/successive_halving.py): rungs and Hyperband brackets by hand, the
choice equal to successive halving replayed by hand on the same candidates' full training
curves (a continued rung equals the prefix of training at once), its search cost, and a run
interrupted in a rung that resumes without retraining the rungs it finished."""

import pytest

from conftest import Recording
from sparsearch.api import run
from sparsearch.arms.random_search import candidate_masks
from sparsearch.arms.successive_halving import SuccessiveHalving, rungs
from sparsearch.arms.training import Training
from sparsearch.config import config_from_dict
from sparsearch.errors import SparsearchError
from sparsearch.mask.study import Planning, validate

EPOCHS, K = 9, 9


def config(settings=None, arms=("successive_halving",), seeds=2, name="sh"):
    return config_from_dict({
        "experiment": {"name": name, "seeds": seeds},
        "data": {"name": "synthetic", "samples": 300},
        "parent": {"hidden": [16, 8]},
        "train": {"epochs": EPOCHS, "batch_size": 32},
        "search": {"space": "node", "sparsities": [0.5], "arms": list(arms)},
        "arms": {"successive_halving": {"candidates": K}, "oracle": {"candidates": K}, **(settings or {})},
    })


def test_rungs_and_hyperband_brackets_follow_li_et_al():
    assert rungs(9, 2, 9, 3) == [(9, 1), (3, 3), (1, 9)]
    assert rungs(27, 2, 20, 3) == [(27, 2), (9, 7), (3, 20)]
    assert SuccessiveHalving(candidates=9).brackets(9) == [[(9, 1), (3, 3), (1, 9)]]
    assert SuccessiveHalving(eta=2, min_epochs=2, max_epochs=8).brackets(20) == [[(100, 2), (50, 4), (25, 8)]]
    # s_max = 2, B = 3 R: bracket s has ceil(3 / (s + 1) * 3^s) candidates from R / 3^s epochs
    assert SuccessiveHalving(hyperband=True).brackets(9) == [[(9, 1), (3, 3), (1, 9)], [(5, 3), (1, 9)], [(3, 9)]]


def _replayed(curves: list[list[float]], bracket: list[tuple[int, int]]) -> int:
    """Successive halving by hand on full validation curves: rung i ranks by the best
    validation accuracy of the first e_i epochs, keeps the top n_{i+1} (lower index on ties)."""
    alive = list(range(len(curves)))
    for (_, epochs), (keep, _) in zip(bracket, [*bracket[1:], (1, None)]):
        ranked = sorted(alive, key=lambda c: (-max(curves[c][:epochs]), c))
        alive = sorted(ranked[:keep])
    return alive[0]


def test_the_choice_is_successive_halving_replayed_on_the_candidates_full_curves(synthetic):
    planning = Planning(config(seeds=3), synthetic)
    plans = planning.plan("successive_halving", 0.5)
    request = planning.request(0.5)
    masks = {seed: candidate_masks(request, seed, K) for seed in range(3)}
    fresh = Planning(config(seeds=3), synthetic).cache  # nothing cached: each candidate trained at once, all epochs
    jobs = [Training(fresh.parent(seed), {"init": seed}, seed, mask) for seed in range(3) for mask in masks[seed]]
    every = iter(fresh.curves(jobs, "full"))
    full = {seed: [next(every) for _ in range(K)] for seed in range(3)}
    bracket = rungs(K, 2, EPOCHS, 3)
    ratio = planning.cache.flops_ratio(masks[0][0])
    picked_not_first = 0
    for seed, plan in enumerate(plans):
        curves = [m["val_acc"] for m in full[seed]]
        choice = _replayed(curves, bracket)
        assert plan.mask == masks[seed][choice]
        picked_not_first += choice != 0
        assert plan.start_spec == {"init": seed}
        # 9 candidates 1 epoch, 3 on to epoch 3, 1 on to epoch 9
        assert plan.search.epochs == pytest.approx((9 * 1 + 3 * 2 + 1 * 6) * ratio)
    assert picked_not_first  # the replay is not vacuous


class Interrupt(Exception):
    pass


class StopAtRung(Recording):
    """Raises when the phase of rung `rung` opens (as a killed run would stop there)."""

    def __init__(self, rung: int):
        super().__init__()
        self.rung = rung

    def phase(self, label, total):
        if f"rung {self.rung} " in label:
            raise Interrupt(label)
        super().phase(label, total)


def test_a_run_interrupted_in_a_rung_resumes_without_retraining_finished_rungs(tmp_path):
    cfg = config()
    path = tmp_path / "s.db"
    with pytest.raises(Interrupt, match="rung 3"):
        run(cfg, store=path, progress=StopAtRung(3))
    resumed = Recording()
    study = run(cfg, store=path, progress=resumed)
    trained = [label for label, total, done in resumed.phases if done]
    assert not [label for label in trained if "rung 1" in label or "rung 2" in label], trained
    assert any("rung 3" in label for label in trained)
    whole = run(cfg, store=tmp_path / "whole.db", progress=Recording())
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("train_seconds", "search_seconds")} for r in rows]
    assert strip(study.outcome.rows) == strip(whole.outcome.rows)


@pytest.mark.parametrize("settings, message", [
    ({"hyperband": True}, r"^arms.successive_halving: with hyperband = true the brackets set the candidates"),
    ({"max_epochs": 20}, r"^arms.successive_halving.max_epochs: 20 must not exceed train.epochs \(9\)"),
    ({"min_epochs": 5, "max_epochs": 3}, r"^arms.successive_halving: min_epochs \(5\) must not exceed max_epochs"),
])
def test_settings_that_do_not_fit_are_one_line_errors(settings, message):
    with pytest.raises(SparsearchError, match=message):
        validate(config({"successive_halving": {"candidates": K, **settings}}))


def test_hyperband_runs_li_et_al_s_brackets_on_successive_candidates(synthetic):
    planning = Planning(config({"successive_halving": {"hyperband": True}}), synthetic)
    plans = planning.plan("successive_halving", 0.5)
    request = planning.request(0.5)
    stream = {seed: candidate_masks(request, seed, 9 + 5 + 3) for seed in range(2)}
    ratio = planning.cache.flops_ratio(stream[0][0])
    # brackets (9 from 1 epoch, 3 on to 3, 1 on to 9), (5 from 3, 1 on to 9), (3 at 9): 21 + 21 + 27 network-epochs
    for seed, plan in enumerate(plans):
        assert plan.search.epochs == pytest.approx(69 * ratio)
        assert plan.mask in stream[seed]
        assert len(plan.anytime) == 3 + 2 + 1
