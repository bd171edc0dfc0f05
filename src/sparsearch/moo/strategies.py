"""Multi-objective sub-network search strategies behind one `search` signature.

- `random`: uniformly random distinct configurations, `population` per batch (the baseline of
  "Random Search as a Baseline for Sparse Neural Network Architecture Search", arXiv 2403.08265).
- `nsga2`: NSGA-II (Deb et al. 2002) from pymoo on the integer space; see `nsga2.py`.
- `linas`: predictor-guided NSGA-II (LINAS, Cummings et al. 2022, DyNAS-T); see `linas.py`.

Every strategy first evaluates the largest configuration (every dimension's last option) and
then the smallest (all first options), which anchor the Pareto front (the two extremes the
sandwich rule trains, Yu & Huang 2019); the strategy then spends the rest of the budget, its
archive starting with both. All objectives are minimized. Each distinct configuration is evaluated at most once;
a run stops after exactly `budget` unique evaluations.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np

from ..errors import SparsearchError
from .evaluations import Evaluations, SearchLog, space_size, validate_choices
from .linas import linas
from .nsga2 import nsga2
from .predictor import KINDS

STRATEGIES = ("random", "nsga2", "linas")


def _random(ev: Evaluations, rng: np.random.Generator, population: int, **_) -> None:
    while ev.remaining > 0:
        ev.run(ev.random_unseen(rng, min(population, ev.remaining)))


def search(
    strategy: str,
    choices: list[int],
    evaluate: Callable[[np.ndarray], np.ndarray],
    budget: int,
    seed: int,
    *,
    population: int = 20,
    predictor: str = "ridge",
    on_batch: Callable[[int], None] | None = None,
) -> SearchLog:
    """Search the integer space `choices` for configurations minimizing all objectives.

    `evaluate(configs [n, D] int) -> objectives [n, M]` is called once per batch with NEW
    configurations only; `on_batch(n)` is called after each batch with the number of unique
    evaluations so far. The first `evaluate` call is the anchors: the largest and the smallest
    configurations (only the largest when `budget` is 1; one row when they coincide). Returns a
    `SearchLog` of exactly `budget` evaluations. Deterministic for a given `seed`.
    """
    runners = {"random": _random, "nsga2": nsga2, "linas": linas}
    if strategy not in runners:
        raise SparsearchError(f"unknown search strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    choices = validate_choices(choices)
    size = space_size(choices)
    if not isinstance(budget, numbers.Integral) or budget < 1 or budget > size:
        raise SparsearchError(f"budget must be an integer in 1..{size} (the number of distinct configurations), got {budget}")
    min_pop = 1 if strategy == "random" else 2
    if not isinstance(population, numbers.Integral) or population < min_pop:
        raise SparsearchError(f"population must be an integer >= {min_pop} for {strategy}, got {population}")
    if predictor not in KINDS:
        raise SparsearchError(f"unknown predictor {predictor!r}; choose one of {', '.join(KINDS)}")
    ev = Evaluations(choices, evaluate, int(budget), on_batch)
    ev.run(np.array([np.array(choices) - 1, np.zeros(len(choices), dtype=np.int64)]))
    runners[strategy](ev, np.random.default_rng(seed), population=int(population), predictor=predictor)
    return ev.log(strategy, seed)
