"""What an elastic experiment found: hypervolume against real evaluations per strategy (mean
and 95% interval over seeds), paired comparisons of final hypervolume against `random`, how
many evaluations each strategy needs to reach random's final hypervolume, the LINAS
predictors' Kendall tau per round, and the rank agreement of inherited and retrained accuracy.

Objectives are minimized: 1 - validation accuracy, and each cost divided by the parent's. The
hypervolume reference point is 1.0 for the error and 1.1 for each cost ratio (the parent itself,
at ratio 1, then still adds volume)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..analysis.paired import Comparison, holm, paired, wilcoxon_p
from ..analysis.probe_quality import rank_correlation
from ..analysis.summary import mean_interval
from ..moo import hypervolume_curve, non_dominated
from ..store import Store
from . import records


def objective_matrix(rows: list[dict], objectives: list[str], parent: dict) -> np.ndarray:
    return np.array([[1 - r["val_acc"]] + [r[o] / parent[o] for o in objectives] for r in rows])


def reference(objectives: list[str]) -> np.ndarray:
    return np.array([1.0] + [1.1] * len(objectives))


@dataclass(frozen=True)
class RankAgreement:
    """Inherited vs retrained-from-scratch validation accuracy of front configurations."""

    n: int
    kendall_tau: float | None = None
    spearman: float | None = None
    mean_seed_kendall_tau: float | None = None


@dataclass(frozen=True)
class SupernetSummary:
    """What a super-network search found, over seeds (see the module docstring)."""

    at: list[int]  # evaluation counts the hypervolume curves are read at
    curves: dict  # (strategy, seed) -> hypervolume at each count
    mean_curves: dict  # strategy -> [Interval] over seeds at each count
    comparisons: list[Comparison]  # final hypervolume vs random, paired by seed
    to_reach_random: dict  # strategy -> per seed, evaluations to reach random's final hypervolume
    taus: dict  # strategy -> per round, mean Kendall tau of the LINAS predictors
    retrained: RankAgreement


STRATEGY_COLUMNS = ("strategy", "seeds", "evaluations", "hypervolume", "hypervolume_ci", "reaches_random_at",
                    "seeds_reaching_random", "predictor_tau")
"""`Study.summary()`'s columns for a super-network search, one row per strategy."""


def strategy_rows(summary: SupernetSummary) -> list[dict]:
    """Per strategy: the final hypervolume (mean over seeds, 95% half width), the median evaluations
    needed to reach random's final hypervolume over the seeds that reach it and how many do (None
    without a random search), and the last LINAS round's predictor tau on 1 - accuracy (else nan)."""
    rows = []
    for strategy, curve in summary.mean_curves.items():
        reach = summary.to_reach_random.get(strategy)
        hits = [n for n in reach or [] if n is not None]
        taus = summary.taus.get(strategy)
        rows.append({"strategy": strategy, "seeds": curve[-1].n, "evaluations": summary.at[-1],
                     "hypervolume": curve[-1].mean, "hypervolume_ci": curve[-1].half_width,
                     "reaches_random_at": float(np.median(hits)) if hits else float("nan"),
                     "seeds_reaching_random": None if reach is None else len(hits),
                     "predictor_tau": taus[-1][0] if taus else float("nan")})
    return rows


def summarize(store: Store, experiment: str, objectives: list[str], population: int) -> SupernetSummary | None:
    """The summary of the finished searches (a strategy or seed still missing is left out of the
    comparisons that need it); None while no search has finished."""
    rows = records.evaluation_rows(store, experiment)
    searches = records.searches(store, experiment)
    if not searches:
        return None
    by_search = defaultdict(list)
    for r in rows:
        by_search[(r["strategy"], r["seed"])].append(r)
    budget = max(len(v) for v in by_search.values())
    at = sorted(set(list(range(population, budget + 1, population)) + [budget]))
    ref = reference(objectives)
    curves = {}
    for s in searches:
        key = (s["strategy"], s["seed"])
        points = objective_matrix(by_search[key], objectives, s["rounds"]["parent"])
        curves[key] = hypervolume_curve(points, ref, at)
    strategies = list(dict.fromkeys(k[0] for k in curves))
    seeds = sorted({k[1] for k in curves})
    mean_curves = {
        st: [mean_interval([curves[(st, sd)][i] for sd in seeds if (st, sd) in curves]) for i in range(len(at))]
        for st in strategies
    }
    comparisons = _paired_final(curves, strategies, seeds)
    return SupernetSummary(
        at=at, curves=curves, mean_curves=mean_curves, comparisons=comparisons,
        to_reach_random=_evaluations_to_reach(curves, strategies, seeds, at), taus=_taus(searches),
        retrained=_retrained(records.retrained(store, experiment)),
    )


def _paired_final(curves, strategies, seeds) -> list[Comparison]:
    """Final hypervolume of every strategy against random, paired by seed, Holm across strategies."""
    if "random" not in strategies:
        return []
    family = []
    for st in (s for s in strategies if s != "random"):
        diffs = np.array([curves[(st, sd)][-1] - curves[("random", sd)][-1] for sd in seeds
                          if (st, sd) in curves and ("random", sd) in curves])
        family.append((st, diffs))
    adjusted = holm([wilcoxon_p(d) for _, d in family])
    return [paired("hypervolume", None, st, "random", diffs, p) for (st, diffs), p in zip(family, adjusted)]


def _evaluations_to_reach(curves, strategies, seeds, at) -> dict[str, list]:
    """Per strategy and seed: the first checkpoint whose hypervolume reaches random's final
    hypervolume for that seed (None if never)."""
    if "random" not in strategies:
        return {}
    out = {}
    for st in strategies:
        out[st] = []
        for sd in (sd for sd in seeds if (st, sd) in curves and ("random", sd) in curves):
            target = curves[("random", sd)][-1]
            out[st].append(next((n for n, hv in zip(at, curves[(st, sd)]) if hv >= target), None))
    return out


def _taus(searches: list[dict]) -> dict[str, list]:
    """Mean over seeds of each LINAS round's predictor Kendall tau (per objective)."""
    rounds = defaultdict(list)
    for s in searches:
        for i, r in enumerate(s["rounds"]["rounds"]):
            tau = r.get("kendall_tau")
            if tau is not None and not all(np.isnan(np.array(tau, dtype=float))):
                rounds[(s["strategy"], i)].append(tau)
    out = defaultdict(list)
    for (st, _), taus in sorted(rounds.items()):
        columns = np.array(taus, dtype=float).T
        out[st].append([float(c[np.isfinite(c)].mean()) if np.isfinite(c).any() else float("nan") for c in columns])
    return dict(out)


def _retrained(rows: list[dict]) -> RankAgreement:
    if len(rows) < 2:
        return RankAgreement(len(rows))
    inherited = np.array([r["inherited_acc"] for r in rows])
    retrained = np.array([r["retrained_acc"] for r in rows])
    per_seed = defaultdict(list)
    for r in rows:
        per_seed[r["seed"]].append((r["inherited_acc"], r["retrained_acc"]))
    seed_taus = [rank_correlation(stats.kendalltau, *map(np.array, zip(*pairs)))
                 for pairs in per_seed.values() if len(pairs) > 1]
    return RankAgreement(len(rows), rank_correlation(stats.kendalltau, inherited, retrained),
                         rank_correlation(stats.spearmanr, inherited, retrained),
                         float(np.nanmean(seed_taus)) if seed_taus and not np.all(np.isnan(seed_taus)) else None)


def front(rows: list[dict], objectives: list[str], parent: dict) -> list[dict]:
    """The non-dominated rows (error vs costs), sorted by the first cost."""
    points = objective_matrix(rows, objectives, parent)
    keep = non_dominated(points)
    return sorted((r for r, k in zip(rows, keep) if k), key=lambda r: r[objectives[0]])
