"""LINAS: Lightweight Iterative Neural Architecture Search (Cummings et al. 2022, "A
Hardware-Aware System for Accelerating Deep Neural Network Optimization", Intel DyNAS-T).

Start with `population` configurations evaluated for real: those evaluated before the run (the
largest and smallest anchors `search` evaluates first) and random ones. Each round: fit one
predictor per objective on every real evaluation, run NSGA-II for `GENERATIONS` generations
(population `INNER_POPULATION`) on the PREDICTED objectives, then evaluate for real up to
`population` not-yet-evaluated configurations from the predicted Pareto front (spread evenly
along the first predicted objective), filling from the rest of the final NSGA-II population
(by rank, then crowding) and, if still short, with random unseen configurations. Before the
predictors are refitted, their Kendall tau on the round's new configurations is recorded
(a held-out measure; the anchors' and the random start's rounds record NaN). Our choice: the
inner NSGA-II starts from the real Pareto-optimal configurations (up to half its population)
plus random ones.
"""

from __future__ import annotations

import numpy as np

from .evaluations import Evaluations
from .pareto import non_dominated
from .predictor import Predictor, kendall_tau
from .nsga2 import as_int, integer_problem, make_nsga2, pymoo_seed

GENERATIONS = 50
INNER_POPULATION = 50


def _inner_start(ev: Evaluations, rng: np.random.Generator, configs: np.ndarray, objectives: np.ndarray) -> np.ndarray:
    front = configs[non_dominated(objectives)][: INNER_POPULATION // 2]
    keys = {tuple(int(v) for v in c) for c in front}
    hi = np.array(ev.choices)
    rows = [c for c in front]
    for row in rng.integers(0, hi, size=(4 * INNER_POPULATION, len(hi))):
        if len(rows) >= INNER_POPULATION:
            break
        key = tuple(int(v) for v in row)
        if key not in keys:
            keys.add(key)
            rows.append(row)
    return np.array(rows, dtype=np.int64)


def _propose(ev: Evaluations, rng: np.random.Generator, predictors: list[Predictor], n: int) -> np.ndarray:
    """Up to `n` unseen configurations from the predicted Pareto front of an inner NSGA-II run."""
    from pymoo.optimize import minimize

    configs = np.concatenate(ev.configs)
    objectives = np.concatenate(ev.objectives)
    problem = integer_problem(ev.choices, len(predictors), lambda x: np.column_stack([p.predict(x) for p in predictors]))
    algorithm = make_nsga2(INNER_POPULATION, sampling=_inner_start(ev, rng, configs, objectives).astype(float), mating_attempts=3)
    res = minimize(problem, algorithm, ("n_gen", GENERATIONS), seed=pymoo_seed(rng), verbose=False)
    pop = res.pop
    x, f = as_int(pop.get("X")), pop.get("F")
    rank, crowd = pop.get("rank").astype(int), pop.get("crowding").astype(float)

    chosen: list[np.ndarray] = []
    keys: set = set()

    def take(rows):
        for c in rows:
            key = tuple(int(v) for v in c)
            if len(chosen) < n and key not in keys and key not in ev.cache:
                keys.add(key)
                chosen.append(c)

    front = np.flatnonzero(rank == 0)
    front = front[np.argsort(f[front, 0], kind="stable")]
    unseen = [i for i in front if tuple(int(v) for v in x[i]) not in ev.cache]
    if len(unseen) > n:  # spread evenly along the first predicted objective
        unseen = [unseen[i] for i in np.unique(np.round(np.linspace(0, len(unseen) - 1, n)).astype(int))]
    take(x[unseen])
    rest = np.lexsort((-np.nan_to_num(crowd, posinf=1e300), rank))
    take(x[rest])
    if len(chosen) < n:
        take(ev.random_unseen(rng, n - len(chosen), exclude=keys))
    return np.array(chosen, dtype=np.int64).reshape(-1, len(ev.choices))


def linas(ev: Evaluations, rng: np.random.Generator, population: int, predictor: str = "ridge", **_) -> None:
    ev.run(ev.random_unseen(rng, min(population - len(ev.cache), ev.remaining)))
    for done in ev.rounds:  # the anchors and the random start: no predictor yet
        done["kendall_tau"] = [float("nan")] * ev.n_obj
    while ev.remaining > 0:
        configs, objectives = np.concatenate(ev.configs), np.concatenate(ev.objectives)
        predictors = [Predictor(ev.choices, predictor).fit(configs, objectives[:, j]) for j in range(ev.n_obj)]
        proposal = _propose(ev, rng, predictors, min(population, ev.remaining))
        new, actual = ev.run(proposal)
        if len(new):
            ev.rounds[-1]["kendall_tau"] = [kendall_tau(p.predict(new), actual[:, j]) for j, p in enumerate(predictors)]
