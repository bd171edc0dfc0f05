"""NSGA-II (Deb et al. 2002) from pymoo (Blank & Deb 2020) on an integer space, driven by
ask-and-tell with one `evaluate` call per generation, and the pymoo pieces LINAS reuses. Our
deviation: a generation whose proposals were all evaluated before (common in small spaces) is
replaced by random unseen configurations, so every run reaches its budget; the initial
population is the configurations evaluated before the run (the anchors `search` evaluates
first) plus random unseen ones."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .evaluations import Evaluations


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


def nsga2(ev: Evaluations, rng: np.random.Generator, population: int, **_) -> None:
    from pymoo.core.evaluator import Evaluator
    from pymoo.core.population import Population

    problem = integer_problem(ev.choices, ev.n_obj, ev.lookup)
    start = np.concatenate(ev.configs)  # the anchors, evaluated before the run
    sampling = np.concatenate([start, ev.random_unseen(rng, max(population - len(start), 0))])
    algorithm = make_nsga2(population, sampling=sampling.astype(float))
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
        evaluator.eval(problem, pop)
        algorithm.tell(infills=pop)
