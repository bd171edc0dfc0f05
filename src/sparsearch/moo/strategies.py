"""Multi-objective sub-network search strategies behind one `search` signature.

- `random`: uniformly random distinct configurations, `population` per batch (the baseline of
  "Random Search as a Baseline for Sparse Neural Network Architecture Search", arXiv 2403.08265).
- `nsga2`: NSGA-II (Deb et al. 2002) from pymoo (Blank & Deb 2020) on the integer space,
  driven by ask-and-tell; one `evaluate` call per generation. Our deviation: a generation whose
  proposals were all evaluated before (common in small spaces) is replaced by random unseen
  configurations, so every run reaches its budget.
- `linas`: predictor-guided NSGA-II (LINAS, Cummings et al. 2022, DyNAS-T); see `linas.py`.

All objectives are minimized. Each distinct configuration is evaluated at most once; a run
stops after exactly `budget` unique evaluations.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np

from ..errors import SparsearchError
from .evaluations import Evaluations, SearchLog, space_size, validate_choices
from .predictor import KINDS

STRATEGIES = ("random", "nsga2", "linas")


def make_nsga2(population: int, sampling=None, mating_attempts: int = 10):
    """pymoo NSGA-II for integer variables: SBX + PM on floats, rounded back to integers."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.operators.sampling.rnd import IntegerRandomSampling

    algorithm = NSGA2(
        pop_size=population,
        sampling=IntegerRandomSampling() if sampling is None else sampling,
        crossover=SBX(prob=0.9, eta=15, vtype=float, repair=RoundingRepair()),
        mutation=PM(eta=20, vtype=float, repair=RoundingRepair()),
        eliminate_duplicates=True,
    )
    # pymoo retries mating up to 100 times to fill a generation with unique offspring; in
    # small discrete spaces that is slow and rarely succeeds, so give up sooner.
    algorithm.mating.n_max_iterations = mating_attempts
    return algorithm


def integer_problem(choices: list[int], n_obj: int, objectives: Callable[[np.ndarray], np.ndarray]):
    """A pymoo Problem on {0..choices[d]-1}^D whose objectives come from `objectives(int X)`."""
    from pymoo.core.problem import Problem

    class _IntegerProblem(Problem):
        def __init__(self):
            super().__init__(n_var=len(choices), n_obj=n_obj, xl=0, xu=np.array(choices) - 1, vtype=int)

        def _evaluate(self, x, out, *args, **kwargs):
            out["F"] = objectives(as_int(x))

    return _IntegerProblem()


def as_int(x) -> np.ndarray:
    return np.rint(np.asarray(x, dtype=float)).astype(np.int64)


def pymoo_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31 - 1))


def _random(ev: Evaluations, rng: np.random.Generator, population: int, **_) -> None:
    while ev.remaining > 0:
        ev.run(ev.random_unseen(rng, min(population, ev.remaining)))


def _nsga2(ev: Evaluations, rng: np.random.Generator, population: int, **_) -> None:
    from pymoo.core.evaluator import Evaluator
    from pymoo.core.population import Population

    # n_obj is only known after the first batch; the lookup problem reads it from the cache.
    problem = integer_problem(ev.choices, 1, ev.lookup)
    algorithm = make_nsga2(population)
    algorithm.setup(problem, termination=("n_gen", 2**62), seed=pymoo_seed(rng))
    evaluator = Evaluator()
    while ev.remaining > 0:
        pop = algorithm.ask()
        if pop is None:  # mating found no offspring unlike the population: pymoo would stop
            algorithm.termination.force_termination = False
            pop = Population.new(X=np.zeros((0, len(ev.choices)), dtype=np.int64))
        x = as_int(pop.get("X")).reshape(-1, len(ev.choices))
        if all(ev.seen(c) for c in x):
            # Stalled: every proposal was already evaluated. Swap in random unseen immigrants
            # so the run always reaches its budget (documented deviation from plain NSGA-II).
            fresh = ev.random_unseen(rng, max(len(x), min(population, ev.remaining)))
            x = np.concatenate([fresh, x[len(fresh) :]])
            pop = Population.new(X=x)
        ev.run(x)
        if ev.remaining <= 0:
            break
        problem.n_obj = ev.n_obj
        evaluator.eval(problem, pop)
        algorithm.tell(infills=pop)


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
    evaluations so far. Returns a `SearchLog` of exactly `budget` evaluations. Deterministic
    for a given `seed`.
    """
    from .linas import linas

    runners = {"random": _random, "nsga2": _nsga2, "linas": linas}
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
    runners[strategy](ev, np.random.default_rng(seed), population=int(population), predictor=predictor)
    return ev.log(strategy, seed)
