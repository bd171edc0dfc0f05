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
from .arms import ARMS, MaskRequest
from .config import Config, to_toml
from .data import Dataset
from .engine import RECIPE_VERSION
from .engine.trainer import train_population
from .nets.mlp import Layers, init_parent, parent_widths
from .seeding import generator
from .spaces.node import NodeMask, compact, cost
from .store import Store


@dataclass(frozen=True)
class PlannedTrial:
    arm: str
    sparsity: float
    seed: int


@dataclass(frozen=True)
class Choice:
    planned: PlannedTrial
    mask: NodeMask
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


def trial_spec(config: Config, data: Dataset, widths: tuple[int, ...], mask: NodeMask, seed: int) -> dict:
    """Everything that determines a trial's result; its hash is the trial key."""
    return {
        "recipe_version": RECIPE_VERSION,
        "data": config.data.model_dump(exclude={"root", "download"}),
        "parent": list(widths),
        "space": config.search.space,
        "mask": mask.to_json(),
        "init_seed": seed,
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

    progress.phase("choosing masks", sum(ARMS[p.arm].candidates(config) for p in planned))
    choices = [_choose(config, data, widths, parents[p.seed], p, progress.advance) for p in planned]

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
        trials, weights = _train(config, data, widths, parents, [group[0] for group in population], progress.advance)
        store.record(name, trials, [_link(c) for group in population for c in group], weights)
    return RunResult(store.export_rows(name), trained=len(pending), reused=len(planned) - sum(map(len, pending.values())))


def _choose(config, data, widths, parent: Layers, planned: PlannedTrial, on_probe: Callable) -> Choice:
    arm = ARMS[planned.arm]
    request = MaskRequest(
        config=config,
        data=data,
        parent=parent,
        seed=planned.seed,
        sparsity=planned.sparsity,
        rng=generator("mask", planned.arm, planned.seed, planned.sparsity),
        on_probe=on_probe,
    )
    mask = arm.choose_mask(request)
    spec = trial_spec(config, data, widths, mask, planned.seed)
    return Choice(planned, mask, trial_key(spec), spec)


def _link(choice: Choice) -> tuple[str, float, int, str]:
    p = choice.planned
    return (p.arm, p.sparsity, p.seed, choice.key)


def _populations(groups: list[list[Choice]], max_population: int) -> list[list[list[Choice]]]:
    """Split groups of identical trials into populations of equal shapes, at most
    `max_population` networks each."""
    by_shape: dict[tuple[int, ...], list[list[Choice]]] = defaultdict(list)
    for group in groups:
        by_shape[tuple(len(layer) for layer in group[0].mask.keep)].append(group)
    return [
        same[start : start + max_population]
        for _, same in sorted(by_shape.items(), reverse=True)
        for start in range(0, len(same), max_population)
    ]


def _train(config, data, widths, parents, choices: list[Choice], on_epoch: Callable) -> tuple[list[dict], dict]:
    """Train one population; return its trial records and, if asked for, final weights by key."""
    members = [compact(parents[c.planned.seed], [c.mask]) for c in choices]
    layers = [
        (torch.cat([m[i][0] for m in members]), torch.cat([m[i][1] for m in members])) for i in range(len(widths) - 1)
    ]
    curves = train_population(layers, [c.planned.seed for c in choices], data, config.train, on_epoch)
    trials = []
    for p, choice in enumerate(choices):
        record = {
            "train_loss": curves.train_loss[p].tolist(),
            "val_acc": curves.val_acc[p].tolist(),
            "test_acc": curves.test_acc[p].tolist(),
        }
        trials.append(
            {
                "key": choice.key,
                "dataset": config.data.name,
                "mask": choice.mask.to_json(),
                **vars(cost(widths, choice.mask)),
                **trial_metrics(record["train_loss"], record["val_acc"], record["test_acc"]),
                "train_seconds": curves.seconds / len(choices),
                "curves": record,
                "spec": choice.spec,
            }
        )
    weights = {}
    if config.store.save_weights:
        for p, choice in enumerate(choices):
            weights[choice.key] = {
                name: tensor
                for i, (w, b) in enumerate(curves.final)
                for name, tensor in ((f"{2 * i}.weight", w[p].t().contiguous()), (f"{2 * i}.bias", b[p].contiguous()))
            }
    return trials, weights
