"""`successive_halving`: random search with early stopping (Jamieson & Talwalkar 2016,
"Non-stochastic Best Arm Identification and Hyperparameter Optimization"; Li et al. 2018,
"Hyperband"; as a NAS baseline, Li & Talwalkar 2019).

Per seed and sparsity it takes the first `candidates` node masks of the random-search stream
(the candidates `random_search`, `oracle` and the probe variants draw), trains them all for the
first rung's epochs, keeps the best 1/eta by validation accuracy (the best so far; test data
never chooses), trains those on to the next rung's epochs, continuing where they stopped (same
weights, optimizer state and data order, so a rung's networks equal the same networks trained
at once), and so on up to `max_epochs`. The best of the last rung is the trial's mask, trained
from the seed's parent initialisation as every node arm's trial is.

Rungs follow Li et al.: with s = floor(log_eta(max / min)), rung i trains to
round(max * eta^(i - s)) epochs and holds floor(n / eta^i) candidates. `hyperband = true` runs
their brackets s = s_max .. 0: bracket s takes the next ceil((s_max + 1) / (s + 1) * eta^s)
candidates of the stream and starts at max * eta^-s epochs; the best of every bracket's last
rung wins. Every seed's rung trains as one population; each rung's curves and its survivors'
checkpoints are stored, so an interrupted search resumes at the rung it was in. With `budget`
plain successive halving starts from the most candidates whose rungs fit in it.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..config import QUICK_EPOCHS, Config
from ..errors import SparsearchError
from .base import BUDGET_DESCRIPTION, Arm, ArmRequest, TrialPlan
from .random_search import candidate_epoch_cost, candidate_jobs, candidate_masks, check_candidates
from .training import Spend

DEFAULT_CANDIDATES = 100


def rungs(n: int, s: int, max_epochs: int, eta: int) -> list[tuple[int, int]]:
    """(candidates, epochs) of each rung of a bracket of `n` candidates and s + 1 rungs."""
    return [(max(1, n // eta**i), round(max_epochs * eta ** (i - s))) for i in range(s + 1)]


class SuccessiveHalving(Arm):
    name = "successive_halving"
    spaces = ("node",)

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        candidates: int | None = Field(None, ge=1, description="random node masks per seed and sparsity (100 if "
                                                                "unset; Hyperband's brackets set their own)")
        eta: int = Field(3, ge=2, description="each rung keeps 1/eta of the candidates")
        min_epochs: int = Field(1, ge=1, description="epochs of the first rung (at least)")
        max_epochs: int | None = Field(None, ge=1, description="epochs of the last rung (the recipe's if unset)")
        hyperband: bool = False
        budget: float | None = Field(None, gt=0, description=BUDGET_DESCRIPTION + "; plain successive halving only")

        @model_validator(mode="after")
        def _fits(self):
            if self.hyperband and self.budget is not None:
                raise ValueError("budget applies to plain successive halving; with hyperband = true the brackets "
                                 "set the cost (Li et al. 2018)")
            if self.hyperband and self.candidates is not None:
                raise ValueError("with hyperband = true the brackets set the candidates (Li et al. 2018); "
                                 f"drop candidates = {self.candidates}")
            if self.max_epochs is not None and self.min_epochs > self.max_epochs:
                raise ValueError(f"min_epochs ({self.min_epochs}) must not exceed max_epochs ({self.max_epochs})")
            return self

    @classmethod
    def quick(cls, table: dict) -> dict:
        quick = {**table, "min_epochs": min(table.get("min_epochs", 1), QUICK_EPOCHS)}
        quick.pop("max_epochs", None)
        if not table.get("hyperband"):
            quick["candidates"] = min(table.get("candidates") or DEFAULT_CANDIDATES, 9)
        return quick

    def check(self, epochs: int) -> None:
        for name in ("min_epochs", "max_epochs"):
            value = getattr(self.params, name)
            if value is not None and value > epochs:
                raise SparsearchError(f"arms.{self.name}.{name}: {value} must not exceed train.epochs ({epochs}): "
                                      f"the rungs train a prefix of the recipe")

    def check_scale(self, config: Config) -> None:
        total = sum(bracket[0][0] for bracket in self.brackets(config.train.epochs, each=0.0))  # the most, budget or not
        check_candidates(self, total, config)

    def brackets(self, epochs: int, each: float = 1.0) -> list[list[tuple[int, int]]]:
        """Each bracket's rungs, (candidates, epochs) each; with a budget, plain successive
        halving takes the most candidates whose rungs cost (`each` per network-epoch) fit in it."""
        p = self.params
        top = p.max_epochs or epochs
        s_max = int(math.floor(math.log(top / p.min_epochs, p.eta) + 1e-9))
        if not p.hyperband:
            n = p.candidates or DEFAULT_CANDIDATES
            while n > 1 and p.budget is not None and _cost(rungs(n, s_max, top, p.eta)) * each > p.budget + 1e-9:
                n -= 1
            return [rungs(n, s_max, top, p.eta)]
        return [rungs(math.ceil((s_max + 1) / (s + 1) * p.eta**s), s, top, p.eta) for s in range(s_max, -1, -1)]

    def plan(self, request: ArmRequest) -> list[TrialPlan]:
        seeds, cache = request.seeds, request.cache
        finalists: dict[int, list] = {seed: [] for seed in seeds}
        spent = {seed: Spend() for seed in seeds}
        anytime: dict[int, list[tuple[float, float]]] = {seed: [] for seed in seeds}
        drawn = 0
        brackets = self.brackets(request.trainer.recipe.epochs, candidate_epoch_cost(request))
        for b, bracket in enumerate(brackets, 1):
            first = bracket[0][0]
            masks = {seed: candidate_masks(request, seed, drawn + first)[drawn:] for seed in seeds}
            drawn += first
            alive = {seed: list(range(first)) for seed in seeds}
            previous = 0
            for r, (_, epochs) in enumerate(bracket):
                jobs = candidate_jobs(request, {seed: [masks[seed][c] for c in alive[seed]] for seed in seeds})
                label = (f"{self.name} at {request.sparsity:g}: {f'bracket {b}, ' if len(brackets) > 1 else ''}"
                         f"rung {r + 1} to epoch {epochs}")
                last = r == len(bracket) - 1
                curves = iter(cache.curves(jobs, label, epochs, previous, checkpoint=not last))
                spends = iter(cache.spent(jobs, "curves", epochs, previous))
                scores = {}
                for seed in seeds:
                    scores[seed] = [max(next(curves)["val_acc"]) for _ in alive[seed]]
                    for _ in alive[seed]:
                        spent[seed] += next(spends)
                    seen = max([*scores[seed], *(v for _, v in anytime[seed][-1:])])
                    anytime[seed].append((spent[seed].epochs, seen))
                if last:
                    for seed in seeds:
                        finalists[seed] += [(score, masks[seed][c]) for score, c in zip(scores[seed], alive[seed])]
                    break
                keep = bracket[r + 1][0]
                alive = {seed: [alive[seed][i] for i in _best(scores[seed], keep)] for seed in seeds}
                cache.keep_checkpoints(candidate_jobs(request, {seed: [masks[seed][c] for c in alive[seed]]
                                                                for seed in seeds}), epochs)
                previous = epochs
        plans = []
        for seed in seeds:
            best = _best([score for score, _ in finalists[seed]], 1)[0]
            plans.append(TrialPlan(finalists[seed][best][1], request.parent(seed), {"init": seed}, search=spent[seed],
                                   anytime=tuple(anytime[seed])))
        return plans


def _cost(bracket: list[tuple[int, int]]) -> int:
    """Network-epochs a bracket trains: each rung's candidates from the previous rung's epochs on."""
    return sum(n * (epochs - previous) for (n, epochs), previous in zip(bracket, [0] + [e for _, e in bracket]))


def _best(scores: list[float], count: int) -> list[int]:
    """Indices of the `count` highest scores, the lower index first on ties, in candidate order."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return sorted(order[:count])
