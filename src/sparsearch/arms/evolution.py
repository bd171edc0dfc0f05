"""`evolution`: regularized (aging) evolution over node masks at a fixed sparsity (Real et al.
2019, "Regularized Evolution for Image Classifier Architecture Search").

Per seed and sparsity the population starts as the first `population` candidates of the
random-search stream (the masks `random_search` and `oracle` draw). Each generation holds
`children` tournaments against the current population: a tournament samples `sample` members
at random (with replacement, as the paper's code does) and mutates the fittest, moving one
kept unit of one layer to a removed unit of the same layer (layer, unit and its new place
uniform), so every layer keeps its count. The children train, every seed's together as one
population; they join the population and as many of its oldest members leave. Fitness is the
best validation accuracy within `fitness_epochs` epochs of the recipe from the seed's parent
initialisation (test data never chooses). After `evaluations` trained networks, initial
population included, the fittest ever evaluated (the earliest on ties) is the trial's mask,
trained from the parent's initialisation as every node arm's trial is. Real et al. ran
tournaments asynchronously on many workers; a generation of `children` is its synchronous form.
With `budget` it stops after the evaluations that fit in it (the population shrinking to them
if they are fewer).
"""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..config import QUICK_EPOCHS, Config
from ..errors import SparsearchError
from ..spaces.node import NodeMask
from .base import BUDGET_DESCRIPTION, Arm, ArmRequest, TrialPlan, affordable
from .random_search import candidate_epoch_cost, candidate_jobs, candidate_masks, check_candidates
from .training import Spend, total


def mutated(mask: NodeMask, widths: tuple[int, ...], rng: torch.Generator) -> NodeMask:
    """`mask` with one kept unit of one layer moved to a removed unit of that layer (the layer
    drawn among those with both; unchanged if none has)."""
    layers = [i for i, (keep, width) in enumerate(zip(mask.keep, widths)) if 0 < len(keep) < width]
    if not layers:
        return mask
    layer = layers[int(torch.randint(len(layers), (1,), generator=rng))]
    kept = list(mask.keep[layer])
    removed = sorted(set(range(widths[layer])) - set(kept))
    kept.pop(int(torch.randint(len(kept), (1,), generator=rng)))
    kept.append(removed[int(torch.randint(len(removed), (1,), generator=rng))])
    keep = list(mask.keep)
    keep[layer] = tuple(sorted(kept))
    return NodeMask(tuple(keep))


class Evolution(Arm):
    name = "evolution"
    spaces = ("node",)

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        population: int = Field(20, ge=2, description="networks alive at once")
        sample: int = Field(5, ge=1, description="members drawn per tournament")
        children: int = Field(10, ge=1, description="tournaments (children) per generation")
        evaluations: int = Field(100, ge=2, description="networks trained in all, the initial population included")
        fitness_epochs: int | None = Field(None, ge=1, description="epochs of the recipe a fitness training runs "
                                                                   "(the recipe's if unset)")
        budget: float | None = Field(None, gt=0, description=BUDGET_DESCRIPTION)

        @model_validator(mode="after")
        def _fits(self):
            if self.evaluations < self.population:
                raise ValueError(f"evaluations ({self.evaluations}) must be at least population ({self.population})")
            if self.children > self.population:
                raise ValueError(f"children ({self.children}) must not exceed population ({self.population}): "
                                 f"a generation replaces its oldest members")
            return self

    @classmethod
    def quick(cls, table: dict) -> dict:
        population = min(table.get("population", 20), 6)
        quick = {**table, "population": population, "children": min(table.get("children", 10), population // 2),
                 "sample": min(table.get("sample", 5), 3), "evaluations": min(table.get("evaluations", 100), 12)}
        if "fitness_epochs" in quick:
            quick["fitness_epochs"] = min(quick["fitness_epochs"], QUICK_EPOCHS)
        return quick

    def check(self, epochs: int) -> None:
        if self.params.fitness_epochs is not None and self.params.fitness_epochs > epochs:
            raise SparsearchError(f"arms.{self.name}.fitness_epochs: {self.params.fitness_epochs} must not exceed "
                                  f"train.epochs ({epochs}): fitness trains a prefix of the recipe")

    def check_scale(self, config: Config) -> None:
        check_candidates(self, self.params.evaluations, config)

    def plan(self, request: ArmRequest) -> list[TrialPlan]:
        p, seeds = self.params, request.seeds
        epochs = p.fitness_epochs or request.trainer.recipe.epochs
        evaluations = affordable(p.budget, epochs * candidate_epoch_cost(request), p.evaluations)
        population = min(p.population, evaluations)
        rngs = {seed: request.rng(self.name, seed) for seed in seeds}
        alive = {seed: candidate_masks(request, seed, population) for seed in seeds}
        history: dict[int, list[tuple[float, NodeMask]]] = {seed: [] for seed in seeds}
        spent = {seed: Spend() for seed in seeds}
        anytime: dict[int, list[tuple[float, float]]] = {seed: [] for seed in seeds}
        fitness = self._train(request, alive, epochs, "initial population", history, spent, anytime)
        generation = 0
        while len(history[seeds[0]]) < evaluations:
            generation += 1
            count = min(p.children, population, evaluations - len(history[seeds[0]]))
            children = {seed: [self._child(alive[seed], fitness[seed], request.hidden, rngs[seed])
                               for _ in range(count)] for seed in seeds}
            scores = self._train(request, children, epochs, f"generation {generation}", history, spent, anytime)
            for seed in seeds:
                alive[seed] = alive[seed][count:] + children[seed]
                fitness[seed] = fitness[seed][count:] + scores[seed]
        plans = []
        for seed in seeds:
            best = max(range(len(history[seed])), key=lambda i: (history[seed][i][0], -i))
            plans.append(TrialPlan(history[seed][best][1], request.parent(seed), {"init": seed}, search=spent[seed],
                                   anytime=tuple(anytime[seed])))
        return plans

    def _child(self, alive: list[NodeMask], fitness: list[float], widths, rng: torch.Generator) -> NodeMask:
        drawn = torch.randint(len(alive), (self.params.sample,), generator=rng).tolist()
        parent = max(drawn, key=lambda i: (fitness[i], -i))
        return mutated(alive[parent], widths, rng)

    def _train(self, request: ArmRequest, masks: dict[int, list[NodeMask]], epochs: int, label: str,
               history: dict, spent: dict, anytime: dict) -> dict[int, list[float]]:
        """Fitness of each seed's `masks`, all seeds trained as one population; noted in
        `history`, `spent` and `anytime`."""
        jobs = candidate_jobs(request, masks)
        curves = iter(request.cache.curves(jobs, f"{self.name} at {request.sparsity:g}: {label}", epochs))
        spends = iter(request.cache.spent(jobs, "curves", epochs))
        scores = {}
        for seed, members in masks.items():
            scores[seed] = [max(next(curves)["val_acc"]) for _ in members]
            history[seed] += list(zip(scores[seed], members))
            spent[seed] += total(next(spends) for _ in members)
            anytime[seed].append((spent[seed].epochs, max(score for score, _ in history[seed])))
        return scores
