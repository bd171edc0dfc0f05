"""Run an experiment: plan arms x sparsities x seeds, let each arm choose its mask, train the
trials the store lacks as populations of equal shapes, and record them.

Within a seed every arm starts from the same parent initialisation (seed) and reads the
training data in the same order (seed): the comparison is paired.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .analysis.convergence import trial_metrics
from .arms import ARMS, MaskRequest, TrialPlan
from .arms.base import arm_stream
from .config import Config, to_toml
from .data import Dataset
from .engine import RECIPE_VERSION
from .engine.trainer import train_population
from .nets.mlp import Layers, init_parent, parent_widths, state_dict
from .spaces.node import compact
from .spaces.weight import WeightMask
from .store import Store


@dataclass(frozen=True)
class PlannedTrial:
    arm: str
    sparsity: float
    seed: int


@dataclass(frozen=True)
class Choice:
    planned: PlannedTrial
    plan: TrialPlan
    key: str
    spec: dict


@dataclass(frozen=True)
class RunResult:
    rows: list[dict]  # the experiment's export rows
    trained: int  # networks trained by this call
    reused: int  # planned trials found in the store


class Progress:
    """Where the run reports progress; the CLI draws bars, the default ignores it."""

    def phase(self, label: str, total: int) -> None: ...

    def advance(self, amount: int) -> None: ...


def plan(config: Config) -> list[PlannedTrial]:
    """Every (arm, sparsity, seed) the config asks for, seeds innermost."""
    return [
        PlannedTrial(name, sparsity, seed)
        for name in config.search.arms
        for sparsity in ARMS[name].sparsities(config.search.sparsities)
        for seed in range(config.experiment.seeds)
    ]


def trial_spec(config: Config, widths: tuple[int, ...], plan: TrialPlan, seed: int) -> dict:
    """Everything that determines a trial's result; its hash is the trial key."""
    return {
        "recipe_version": RECIPE_VERSION,
        "data": config.data.model_dump(exclude={"root", "download"}),
        "parent": list(widths),
        "space": config.search.space,
        "mask": plan.mask.digest(),
        "start": plan.start_spec,
        "hook": plan.hook_spec,
        "order_seed": seed,
        "train": config.train.model_dump(),
    }


def trial_key(spec: dict) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def run_experiment(config: Config, data: Dataset, store: Store, progress: Progress | None = None) -> RunResult:
    """Run (or continue) the experiment: train only the planned trials the store lacks."""
    progress = progress or Progress()
    torch.set_num_threads(config.engine.threads)
    torch.use_deterministic_algorithms(True)
    widths = parent_widths(data.n_features, config.parent.hidden, data.n_classes)
    parents = {seed: init_parent(widths, seed) for seed in range(config.experiment.seeds)}
    planned = plan(config)

    progress.phase("planning", len(planned))
    cache: dict = {}
    choices = []
    for p in planned:
        choices.append(_choose(config, data, widths, parents[p.seed], p, cache))
        progress.advance(1)

    name = config.experiment.name
    store.begin_experiment(name, to_toml(config), len(planned))
    keys = [c.key for c in choices]
    done = store.done_keys(keys)
    if config.store.save_weights:
        done &= store.keys_with_weights(keys)  # retrain (bitwise identically) to obtain the weights
    store.record(name, [], [_link(c) for c in choices if c.key in done])

    pending: dict[str, list[Choice]] = defaultdict(list)
    for choice in choices:
        if choice.key not in done:
            pending[choice.key].append(choice)
    populations = _populations(list(pending.values()), config.engine.max_population)
    progress.phase("training", len(pending) * config.train.epochs)
    for population in populations:
        trials, weights = _train(config, data, widths, [group[0] for group in population], progress.advance)
        store.record(name, trials, [_link(c) for group in population for c in group], weights)
    return RunResult(store.export_rows(name), trained=len(pending), reused=len(planned) - sum(map(len, pending.values())))


def _choose(config, data, widths, parent: Layers, planned: PlannedTrial, cache: dict) -> Choice:
    request = MaskRequest(
        config=config,
        data=data,
        widths=widths,
        parent=parent,
        seed=planned.seed,
        sparsity=planned.sparsity,
        rng=arm_stream(planned.arm, planned.seed, planned.sparsity),
        cache=cache,
    )
    plan = ARMS[planned.arm].plan(request)
    spec = trial_spec(config, widths, plan, planned.seed)
    return Choice(planned, plan, trial_key(spec), spec)


def _link(choice: Choice) -> tuple[str, float, int, str]:
    p = choice.planned
    return (p.arm, p.sparsity, p.seed, choice.key)


def _populations(groups: list[list[Choice]], max_population: int) -> list[list[list[Choice]]]:
    """Split groups of identical trials into populations of equal shapes, at most
    `max_population` networks each."""
    by_shape: dict[tuple, list[list[Choice]]] = defaultdict(list)
    for group in groups:
        by_shape[group[0].plan.mask.shape_key()].append(group)
    return [
        same[start : start + max_population]
        for _, same in sorted(by_shape.items(), reverse=True)
        for start in range(0, len(same), max_population)
    ]


def _train(config, data, widths, choices: list[Choice], on_epoch: Callable) -> tuple[list[dict], dict]:
    """Train one population; return its trial records and, if asked for, final weights by key."""
    plans = [c.plan for c in choices]
    weight_space = isinstance(plans[0].mask, WeightMask)
    members = [[(w.unsqueeze(0), b.unsqueeze(0)) for w, b in p.start] if weight_space else compact(p.start, [p.mask])
               for p in plans]
    layers = [
        (torch.cat([m[i][0] for m in members]), torch.cat([m[i][1] for m in members])) for i in range(len(widths) - 1)
    ]
    masks = [torch.stack([p.mask.layers[i] for p in plans]) for i in range(len(widths) - 1)] if weight_space else None
    curves = train_population(
        layers, [c.planned.seed for c in choices], data, config.train, on_epoch, masks=masks,
        hooks=[p.hook for p in plans] if weight_space else None, max_memory=config.engine.max_memory,
    )
    trials, weights = [], {}
    for p, choice in enumerate(choices):
        mask = WeightMask(tuple(m[p] for m in curves.masks)) if weight_space else choice.plan.mask
        record = {
            "train_loss": curves.train_loss[p].tolist(),
            "val_acc": curves.val_acc[p].tolist(),
            "test_acc": curves.test_acc[p].tolist(),
        }
        trials.append(
            {
                "key": choice.key,
                "dataset": config.data.name,
                "mask": mask.to_json(),
                **vars(mask.cost(widths)),
                **trial_metrics(record["train_loss"], record["val_acc"], record["test_acc"]),
                "train_seconds": curves.seconds / len(choices),
                "curves": record,
                "spec": choice.spec,
            }
        )
        if config.store.save_weights:
            weights[choice.key] = state_dict([(w[p], b[p]) for w, b in curves.final])
    return trials, weights
