"""Multi-objective search: Pareto tools, predictors and the random / nsga2 / linas strategies."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sparsearch.errors import SparsearchError
from sparsearch.moo import (
    STRATEGIES,
    Predictor,
    hypervolume,
    hypervolume_curve,
    kendall_tau,
    non_dominated,
    search,
)

# A synthetic super-network: D = 4 dimensions with 4 options each (256 configurations).
# Objective 1 rewards capacity (-sum(x), like 1 - accuracy); objective 2 is a cost that
# grows with the square of each choice and weights later dimensions more, so the Pareto
# front is a staircase of many configurations, not a single point. Both lie in [-1, 0] x [0, 1].
CHOICES = [4, 4, 4, 4]
WEIGHTS = np.array([1.0, 2.0, 3.0, 5.0])
REFERENCE = np.array([0.0, 1.0])
BUDGET, POPULATION, SEEDS = 100, 10, (0, 1, 2)


def toy(configs: np.ndarray) -> np.ndarray:
    x = np.asarray(configs, dtype=float)
    accuracy_loss = -x.sum(axis=1) / 12.0
    cost = (x**2 * WEIGHTS).sum(axis=1) / (9.0 * WEIGHTS.sum())
    return np.column_stack([accuracy_loss, cost])


class Recorder:
    """An `evaluate` that records every batch it is given."""

    def __init__(self):
        self.batches: list[np.ndarray] = []

    def __call__(self, configs):
        assert configs.dtype.kind == "i" and configs.shape[1] == len(CHOICES)
        self.batches.append(configs.copy())
        return toy(configs)


@pytest.fixture(scope="module")
def runs():
    """(strategy, seed) -> (SearchLog, Recorder, on_batch values), computed once."""
    out = {}
    for strategy in STRATEGIES:
        for seed in SEEDS:
            rec, progress = Recorder(), []
            log = search(strategy, CHOICES, rec, BUDGET, seed, population=POPULATION, on_batch=progress.append)
            out[strategy, seed] = (log, rec, progress)
    return out


# ---------------------------------------------------------------- pareto


def test_hypervolume_of_a_known_2d_front():
    front = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]])
    ref = np.array([4.0, 4.0])
    # Sweep by f1: (1,3) adds (4-1)*(4-3) = 3; (2,2) adds (4-2)*(3-2) = 2; (3,1) adds (4-3)*(2-1) = 1.
    # Total 3 + 2 + 1 = 6.
    assert hypervolume(front, ref) == pytest.approx(6.0)
    # A dominated extra point (and a duplicate) change nothing.
    assert hypervolume(np.vstack([front, [[3.0, 3.0], [2.0, 2.0]]]), ref) == pytest.approx(6.0)
    # Points not strictly inside the reference box are ignored.
    assert hypervolume(np.vstack([front, [[0.0, 5.0], [5.0, 0.0], [4.0, 0.5]]]), ref) == pytest.approx(6.0)
    assert hypervolume(np.array([[5.0, 5.0]]), ref) == 0.0
    assert hypervolume(np.zeros((0, 2)), ref) == 0.0


def test_hypervolume_with_three_objectives_uses_pymoo_and_matches_hand_values():
    ref = np.array([2.0, 2.0, 2.0])
    # One point (1,1,1): the box [1,2]^3 has volume 1.
    assert hypervolume(np.array([[1.0, 1.0, 1.0]]), ref) == pytest.approx(1.0)
    # (0,1,1) and (1,0,1): boxes of 2*1*1 = 2 each, overlapping in [1,2]^3 of volume 1 -> 3.
    pts = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [3.0, 0.0, 0.0]])  # the last is outside
    assert hypervolume(pts, ref) == pytest.approx(3.0)


def test_hypervolume_rejects_a_mismatched_reference():
    with pytest.raises(SparsearchError):
        hypervolume(np.ones((2, 2)), np.ones(3))


def test_non_dominated_on_a_hand_made_set():
    pts = np.array(
        [
            [1.0, 5.0],  # optimal (best f1)
            [2.0, 2.0],  # optimal
            [3.0, 2.0],  # dominated by (2, 2)
            [5.0, 1.0],  # optimal (best f2)
            [2.0, 2.0],  # duplicate of an optimal point: kept too
            [4.0, 4.0],  # dominated
            [1.0, 6.0],  # dominated by (1, 5): equal f1, worse f2
        ]
    )
    assert non_dominated(pts).tolist() == [True, True, False, True, True, False, False]
    assert non_dominated(np.zeros((0, 2))).tolist() == []


def test_hypervolume_curve_is_that_of_prefixes():
    objectives = toy(np.array(list(itertools.product(range(4), repeat=4)))[::-1])
    at = [0, 1, 10, 50, 256]
    curve = hypervolume_curve(objectives, REFERENCE, at)
    assert curve == pytest.approx([hypervolume(objectives[:n], REFERENCE) if n else 0.0 for n in at])
    with pytest.raises(SparsearchError):
        hypervolume_curve(objectives, REFERENCE, [257])


# ---------------------------------------------------------------- predictor


def test_predictor_ranks_an_additive_objective_and_kendall_tau_is_nan_safe():
    rng = np.random.default_rng(0)
    configs = rng.integers(0, 4, size=(80, 4))
    target = toy(configs)[:, 1]
    for kind in ("ridge", "mlp"):
        pred = Predictor(CHOICES, kind).fit(configs[:60], target[:60]).predict(configs[60:])
        assert kendall_tau(pred, target[60:]) > 0.7
    assert kendall_tau([1.0, 2.0, 3.0], [1.0, 3.0, 2.0]) == pytest.approx(1 / 3)
    assert kendall_tau([1.0, np.nan, 2.0, 3.0], [1.0, 5.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert np.isnan(kendall_tau([1.0], [2.0]))
    assert np.isnan(kendall_tau([1.0, 1.0], [1.0, 2.0]))
    with pytest.raises(SparsearchError):
        Predictor(CHOICES, "gp")


# ---------------------------------------------------------------- strategies


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_each_strategy_evaluates_exactly_budget_distinct_configs_in_batches(runs, strategy):
    for seed in SEEDS:
        log, rec, progress = runs[strategy, seed]
        assert log.configs.shape == (BUDGET, 4) and log.objectives.shape == (BUDGET, 2)
        assert len({tuple(c) for c in log.configs}) == BUDGET
        assert ((log.configs >= 0) & (log.configs < 4)).all()
        # batched: several calls of at most `population` new configurations, none repeated
        sizes = [len(b) for b in rec.batches]
        assert len(sizes) > 1 and max(sizes) <= POPULATION and sum(sizes) == BUDGET
        assert np.array_equal(np.concatenate(rec.batches), log.configs)
        np.testing.assert_allclose(log.objectives, toy(log.configs))
        assert progress == list(np.cumsum(sizes)) == [r["evaluations"] for r in log.rounds]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_evaluates_the_largest_then_the_smallest_first(runs, strategy):
    anchors = [[3, 3, 3, 3], [0, 0, 0, 0]]
    for seed in SEEDS:
        log, rec, _ = runs[strategy, seed]
        assert rec.batches[0].tolist() == anchors and log.configs[:2].tolist() == anchors
        assert log.rounds[0]["new"] == 2
    # the anchors are the start of the archive: the first population is filled up to `population`
    assert len(runs[strategy, 0][1].batches[1]) == (POPULATION if strategy == "random" else POPULATION - 2)
    assert search(strategy, CHOICES, toy, 1, 0, population=2).configs.tolist() == [[3, 3, 3, 3]]
    assert search(strategy, [1, 1], toy_any, 1, 0, population=2).configs.tolist() == [[0, 0]]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_strategy_is_deterministic_per_seed_and_truncates_the_last_batch(strategy):
    a = search(strategy, CHOICES, toy, 25, 7, population=POPULATION)
    b = search(strategy, CHOICES, toy, 25, 7, population=POPULATION)
    c = search(strategy, CHOICES, toy, 25, 8, population=POPULATION)
    assert np.array_equal(a.configs, b.configs) and np.array_equal(a.objectives, b.objectives)
    assert not np.array_equal(a.configs, c.configs)
    assert len(a.configs) == 25 and a.rounds[-1]["evaluations"] == 25
    assert [r["new"] for r in a.rounds][-1] <= POPULATION


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_log_pareto_subset_is_mutually_non_dominated(runs, strategy):
    log = runs[strategy, 0][0]
    front = log.objectives[non_dominated(log.objectives)]
    assert len(front) > 1  # a real trade-off
    for a, b in itertools.permutations(front, 2):
        assert not (np.all(a <= b) and np.any(a < b))
    for p in log.objectives[~non_dominated(log.objectives)]:
        assert any(np.all(f <= p) and np.any(f < p) for f in front)


def test_nsga2_and_linas_are_not_worse_than_random_on_an_easy_problem(runs):
    mean_hv = {s: np.mean([hypervolume(runs[s, seed][0].objectives, REFERENCE) for seed in SEEDS]) for s in STRATEGIES}
    assert mean_hv["nsga2"] >= mean_hv["random"]
    assert mean_hv["linas"] >= mean_hv["random"]


def test_hypervolume_curve_of_a_search_is_non_decreasing(runs):
    log = runs["nsga2", 0][0]
    curve = hypervolume_curve(log.objectives, REFERENCE, list(range(0, BUDGET + 1, 5)))
    assert all(b >= a for a, b in zip(curve, curve[1:]))
    assert curve[-1] == pytest.approx(hypervolume(log.objectives, REFERENCE))


def test_linas_reports_held_out_kendall_tau_per_round_and_objective(runs):
    log = runs["linas", 0][0]
    assert all(len(r["kendall_tau"]) == 2 for r in log.rounds)
    # the anchors and the random start (together `population`): no predictor yet
    assert [r["new"] for r in log.rounds[:2]] == [2, POPULATION - 2]
    assert np.isnan([r["kendall_tau"] for r in log.rounds[:2]]).all()
    for r in log.rounds[2:]:
        if r["new"] >= 2:
            assert np.isfinite(r["kendall_tau"]).all()
    assert np.nanmean([r["kendall_tau"] for r in log.rounds[2:]]) > 0.5
    mlp = search("linas", CHOICES, toy, 30, 0, population=POPULATION, predictor="mlp")
    assert len(mlp.rounds) == 4 and np.isfinite(mlp.rounds[2]["kendall_tau"]).all()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_tiny_spaces_are_exhausted_without_hanging(strategy):
    log = search(strategy, [1, 3, 2], toy_any, 6, 0, population=4)
    assert sorted(map(tuple, log.configs)) == sorted(itertools.product(range(1), range(3), range(2)))


def toy_any(configs):
    x = np.asarray(configs, dtype=float)
    return np.column_stack([-x.sum(axis=1), (x * np.arange(1, x.shape[1] + 1)).sum(axis=1)])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"strategy": "grid"},
        {"budget": 257},
        {"budget": 0},
        {"population": 1, "strategy": "nsga2"},
        {"predictor": "gp"},
        {"choices": [4, 0]},
        {"evaluate": lambda x: np.zeros((len(x) + 1, 2))},
        {"evaluate": lambda x: np.full((len(x), 2), np.nan)},
    ],
)
def test_user_errors_raise_sparsearch_error(kwargs):
    args = {"strategy": "random", "choices": CHOICES, "evaluate": toy, "budget": 10, "seed": 0, **kwargs}
    extra = {k: args.pop(k) for k in ("population", "predictor") if k in args}
    with pytest.raises(SparsearchError):
        search(args["strategy"], args["choices"], args["evaluate"], args["budget"], args["seed"], **extra)
