"""`random_search`: random search over the node space (arXiv 2403.08265, "Random Search as a
Baseline for Sparse Neural Network Architecture Search").

Draw K = `candidates` uniformly random node masks at the sparsity, score each with a probe
(`sparsearch.probes`: the loss at initialisation, after `probe_steps` SGD steps, validation
accuracy after `early_epochs` epochs, or a zero-cost proxy), keep the best-scored mask (first
on ties). The K candidates of a seed are scored as populations. The paper does not publish its
exact scoring rule; `init_loss` is our default (docs/method.md).

Every variant of this arm, and `oracle`, draws the same K candidates for a seed and sparsity
(the stream of `random_search`), so probes are compared on identical candidates. With
`audit = N` the first N candidates are also trained fully (as populations, shared with
`oracle` and other variants) and the probe's ranking of them is recorded (`ProbeAudit`).
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..analysis.convergence import trial_metrics
from ..analysis.probe_quality import audit
from ..config import Config
from ..engine.memory import refuse_over
from ..engine.probe import probe_scores
from ..probes import PROBES, probe_passes
from ..spaces.node import NodeMask, sample_mask
from .base import BUDGET_DESCRIPTION, Arm, ArmRequest, TrialPlan, affordable
from .training import Spend, Training, total

STREAM = "random_search"
"""The random stream every candidate-drawing arm shares."""

Probe = Literal["init_loss", "steps", "early", "grad_norm", "snip", "grasp", "synflow", "fisher", "jacob_cov", "naswot"]


CANDIDATE_BYTES = 64
"""Bytes a drawn candidate holds at the least (its mask object and its score): a lower bound."""


def check_candidates(arm: Arm, candidates: int, config: Config) -> None:
    """Refuse `candidates` whose masks, for every seed, would not fit this machine's memory."""
    seeds = len(config.experiment.seed_list)
    refuse_over(candidates * seeds * CANDIDATE_BYTES, f"arms.{arm.name}.candidates",
                candidates, f"the candidates of {seeds} seed(s)", "draw fewer candidates")


def candidate_masks(request: ArmRequest, seed: int, count: int) -> list[NodeMask]:
    """The first `count` random candidates of `seed` at the request's sparsity (any `count`
    gives a prefix of the same sequence)."""
    rng = request.rng(STREAM, seed)
    return [sample_mask(request.hidden, request.sparsity, rng) for _ in range(count)]


def candidate_epoch_cost(request: ArmRequest) -> float:
    """Dense-parent epochs one epoch of a candidate costs (every candidate at a sparsity has
    the same shapes)."""
    return request.cache.flops_ratio(candidate_masks(request, request.seeds[0], 1)[0])


def candidate_jobs(request: ArmRequest, masks_by_seed: dict[int, list[NodeMask]]) -> list[Training]:
    """Each seed's candidate `masks` trained from that seed's parent initialisation, seed by seed."""
    return [Training(request.parent(seed), {"init": seed}, seed, mask)
            for seed, masks in masks_by_seed.items() for mask in masks]


def trained_candidates(request: ArmRequest, masks_by_seed: dict[int, list[NodeMask]], label: str):
    """Trial metrics of every candidate trained fully from the seed's init, all seeds as one
    population (cached in the store, shared by every arm that asks)."""
    curves = iter(request.cache.curves(candidate_jobs(request, masks_by_seed), label))
    return {seed: [trial_metrics(**next(curves)) for _ in masks] for seed, masks in masks_by_seed.items()}


def candidate_spend(request: ArmRequest, masks_by_seed: dict[int, list[NodeMask]]) -> dict[int, Spend]:
    """What training every candidate of each seed fully spent (`trained_candidates`)."""
    spends = iter(request.cache.spent(candidate_jobs(request, masks_by_seed), "curves"))
    return {seed: total(next(spends) for _ in masks) for seed, masks in masks_by_seed.items()}


class RandomSearch(Arm):
    name = "random_search"
    spaces = ("node",)

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        candidates: int = Field(100, ge=1, description="random node masks scored per seed and sparsity")
        probe: Probe = "init_loss"
        probe_steps: int = Field(10, ge=1, description="with probe = steps: SGD steps before scoring")
        early_epochs: int = Field(3, ge=1, description="with probe = early: epochs of training before scoring")
        audit: int = Field(0, ge=0, description="also train this many candidates fully to audit the probe")
        budget: float | None = Field(None, gt=0, description=BUDGET_DESCRIPTION)

        @model_validator(mode="after")
        def _audit_within_candidates(self):
            if self.audit > self.candidates:
                raise ValueError(f"audit ({self.audit}) must not exceed candidates ({self.candidates})")
            if self.audit == 1:
                raise ValueError("audit needs at least 2 candidates to rank (or 0 for none)")
            return self

    @classmethod
    def quick(cls, table: dict) -> dict:
        candidates = min(table.get("candidates", 100), 10)
        return {**table, "candidates": candidates, **({"audit": min(table["audit"], candidates)} if table.get("audit") else {})}

    def check_scale(self, config: Config) -> None:
        check_candidates(self, self.params.candidates, config)

    def scored(self, request: ArmRequest, seed: int) -> tuple[list[NodeMask], torch.Tensor]:
        """This seed's K candidates (those within the budget) and their probe scores (higher is better)."""
        each = self.spend(request, 1).epochs
        masks = candidate_masks(request, seed, affordable(self.params.budget, each, self.params.candidates))
        scores = probe_scores(request.trainer, request.parent(seed), masks, request.probe_indices(seed),
                              PROBES[self.params.probe], order_seed=seed, steps=self.params.probe_steps,
                              epochs=self.params.early_epochs)
        return masks, scores

    def plan(self, request: ArmRequest) -> list[TrialPlan]:
        scored = {seed: self.scored(request, seed) for seed in request.seeds}
        audits = self._audits(request, scored) if self.params.audit else {}
        return [TrialPlan(masks[best(scores)], request.parent(seed), {"init": seed}, audit=audits.get(seed),
                          search=self.spend(request, len(masks)))
                for seed, (masks, scores) in scored.items()]

    def spend(self, request: ArmRequest, count: int) -> Spend:
        """What probing `count` candidates spent (the audit's trainings measure the probe and
        choose nothing, so they are not counted)."""
        data, p = request.trainer.data, self.params
        each = probe_passes(p.probe, batch=request.probe_examples, steps=p.probe_steps, epochs=p.early_epochs,
                            batch_size=request.trainer.recipe.batch_size, n_train=data.x_train.shape[0],
                            n_val=data.x_val.shape[0])
        return Spend(count * request.cache.pass_epochs(each) * candidate_epoch_cost(request))

    def _audits(self, request: ArmRequest, scored: dict) -> dict:
        n = self.params.audit
        metrics = trained_candidates(request, {seed: masks[:n] for seed, (masks, _) in scored.items()},
                                     f"auditing {self.name} at {request.sparsity}")
        return {seed: audit(self.params.probe, scores[:n].tolist(), [m["best_val_acc"] for m in metrics[seed]],
                            [m["test_acc"] for m in metrics[seed]])
                for seed, (_, scores) in scored.items()}


def best(scores: torch.Tensor) -> int:
    """The index of the highest score, first on ties; NaN never wins."""
    return int(torch.argmax(torch.nan_to_num(scores, nan=-torch.inf)))
