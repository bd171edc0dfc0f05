"""Multi-objective sub-network search: Pareto tools, objective predictors, search strategies.

Configurations are integer vectors over a super-network's choices (Once-for-All / BigNAS);
all objectives are minimized. Strategies: `random`, `nsga2` (pymoo NSGA-II) and `linas`
(predictor-guided NSGA-II, Cummings et al. 2022).
"""

from .evaluations import SearchLog
from .pareto import hypervolume, hypervolume_curve, non_dominated
from .predictor import Predictor, kendall_tau
from .strategies import STRATEGIES, search

__all__ = [
    "STRATEGIES",
    "Predictor",
    "SearchLog",
    "hypervolume",
    "hypervolume_curve",
    "kendall_tau",
    "non_dominated",
    "search",
]
