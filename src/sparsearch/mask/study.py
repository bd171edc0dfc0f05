"""The `mask` experiment kind: plan arms x sparsities x seeds, let each arm choose the masks of
all seeds at a sparsity, train the trials the store lacks as populations of equal shapes, and
record them.

Within a seed every arm starts from the same parent initialisation (seed) and reads the
training data in the same order (seed): the comparison is paired.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

import torch

from ..analysis.convergence import tested_metrics
from ..analysis.export import export_rows
from ..analysis.search_cost import record_search
from ..arms import Arm, ArmRequest, TrialPlan, build_arm, build_arms, planned_sparsities
from ..arms.training import Spend, TrainingCache
from ..config import AUTO_WEIGHTS_BYTES, Config, to_toml
from ..data import Dataset
from ..engine import RECIPE_VERSION
from ..engine.augment import check_images
from ..engine.device import resolve_device
from ..engine.memory import check_training
from ..engine.executor import IN_PROCESS, Chunk, Executor, TaskFailure
from ..engine.trainer import Curves, Trainer
from ..errors import SparsearchError, one_line
from ..measure.trials import check_measure, measure_experiment
from ..nets import build_parent, check_settings
from ..nets.base import joined, rows, stacked
from ..probes import MLP_PROBES, PROBES
from ..progress import Progress
from ..specs import RunSpec, TrialSpec
from ..spaces.node import full_mask
from ..spaces.weight import WeightMask
from ..store import PlanLink, Store, TrialRecord, TrialWeights
from ..tracking import Tracking, check_log
from .anytime import record_anytime
from .audits import record_audits


@dataclass(frozen=True)
class Slot:
    """One cell of the design: an arm at a sparsity for a seed."""

    arm: str
    sparsity: float
    seed: int


@dataclass(frozen=True)
class Assignment:
    """A slot with the trial that answers it: what to train, and the key of its result."""

    slot: Slot
    plan: TrialPlan
    spec: TrialSpec
    search: Spend  # what choosing the mask spent: the arm's, plus its measured scoring time

    @property
    def key(self) -> str:
        return self.spec.key


@dataclass(frozen=True, repr=False)
class MaskRun:
    """What one run of a mask study did."""

    rows: list[dict]  # the experiment's export rows
    trained: int  # networks trained by this call (trials, not counting arms' own training)
    failed: int  # planned trials whose training failed in this call (recorded as failures; a rerun retries them)
    reused: int  # planned trials found in the store
    pretrained: int  # networks arms trained before planning (trained parents, lottery rounds)

    def __repr__(self) -> str:
        return (f"MaskRun(networks={len(self.rows)}, trained={self.trained}, reused={self.reused}, failed={self.failed}, "
                f"pretrained={self.pretrained})")


def trainer_for(config: Config, data: Dataset, executor: Executor = IN_PROCESS) -> Trainer:
    """The engine bound to this config's parent kind, recipe and limits, to `data`, to the
    executor its populations run on and to the device they compute on."""
    parent = build_parent(config.parent, data.shape, data.n_classes)
    return Trainer(parent, data, config.train, config.engine.max_memory, config.engine.max_population,
                   config.engine.precision, executor, resolve_device(config.engine.device), tuple(config.data.augment))


def validate(config: Config) -> dict[str, Arm]:
    """Everything about the config that can be checked before data or store are touched."""
    check_settings(config, config.search.sparsities if config.search.space == "node" else [])
    check_log(config)
    arms = build_arms(config)
    for name, arm in arms.items():
        probe = getattr(arm.params, "probe", None)
        if config.parent.kind != "mlp" and probe in MLP_PROBES:
            raise SparsearchError(f"arms.{name}.probe: {probe!r} reads an MLP's hidden activations; with parent.kind "
                                  f"= {config.parent.kind!r} use one of: "
                                  f"{', '.join(p for p in PROBES if p not in MLP_PROBES)}")
    return arms


def check_data(config: Config, data: Dataset) -> None:
    """What needs the data, checked before the store is touched: augmented data are images, the
    parent builds at the data's shape, every arm works on it, one network of it trains within the memory budget and, in the
    node space, it compacts (a user's module whose channel groups cannot be traced says so here)
    and keeps a node of every group at every sparsity."""
    check_images(config.data.augment, data.shape)
    parent = build_parent(config.parent, data.shape, data.n_classes)
    check_training(parent, config)
    for arm in build_arms(config).values():
        arm.check_parent(parent)
    if config.search.space == "node":
        parent.compact(parent.init(0), [full_mask(parent.widths[1:-1])])
        parent.check_node_sparsities(config.search.sparsities)
    if config.measure.latency:
        check_measure(parent, config)


def run_spec(config: Config, trainer: Trainer) -> RunSpec:
    """What every training of this run shares: engine version, data (and its augmentation),
    parent, recipe and precision."""
    data = trainer.data
    return RunSpec(RECIPE_VERSION, data.name, data.fingerprint, trainer.parent.spec(), config.train.keyed(),
                   trainer.precision, trainer.augment)


class Planning:
    """The planning of one run: its arms, the trainer, the training cache and the requests
    arms receive (one per sparsity, for all seeds)."""

    def __init__(self, config: Config, data: Dataset, store: Store | None = None, progress: Progress | None = None,
                 executor: Executor = IN_PROCESS):
        self.config = config
        self.arms = validate(config)
        self.trainer = trainer_for(config, data, executor)
        self.run = run_spec(config, self.trainer)
        self.cache = TrainingCache(self.trainer, self.run, store, progress)
        self.seeds = config.experiment.seed_list
        self._peers: dict[str, Arm] = dict(self.arms)
        self._memo: dict = {}

    def peer(self, name: str) -> Arm:
        """Arm `name` as this experiment configures it (listed or not)."""
        if name not in self._peers:
            self._peers[name] = build_arm(self.config, name)
        return self._peers[name]

    def request(self, sparsity: float) -> ArmRequest:
        search = self.config.search
        return ArmRequest(
            trainer=self.trainer, space=search.space, sparsity=sparsity, sparsities=tuple(search.sparsities),
            seeds=self.seeds, allocation=search.allocation, probe_batch=search.probe_batch, cache=self.cache,
            peer=self.peer, memo=self._memo,
        )

    def plan(self, arm: str, sparsity: float) -> list[TrialPlan]:
        """Arm `arm`'s trial plans for every seed at `sparsity`."""
        return self.peer(arm).plan(self.request(sparsity))

    def assignments(self, progress: Progress) -> list[Assignment]:
        """Every arm's trials, sparsity by sparsity, all seeds at once, with their keys.

        The trainings an arm runs while it plans (trained parents, lottery rounds, oracle and
        audit candidates) report phases of their own through the cache; the arm's planning phase
        opens after its first sparsity's trainings and reopens with what remains after later
        ones, so no advance of planning lands in a training's phase. The time an arm spends
        choosing beyond those trainings (scoring, drawing) is shared by its seeds' search spend."""
        out = []
        for name, arm in self.arms.items():
            sparsities = planned_sparsities(arm, self.config.search.sparsities, self.peer)
            left = len(sparsities) * len(self.seeds)
            for sparsity in sparsities:
                trained, training_seconds, started = self.cache.trained_now, self.cache.training_seconds, time.perf_counter()
                plans = self.plan(name, sparsity)
                scoring = Spend(0.0, (time.perf_counter() - started - (self.cache.training_seconds - training_seconds))
                                / len(self.seeds))
                if sparsity == sparsities[0] or self.cache.trained_now != trained:
                    progress.phase(f"planning {name}", left)
                left -= len(self.seeds)
                out.extend(self._assignment(Slot(name, sparsity, seed), plan, scoring)
                           for seed, plan in zip(self.seeds, plans))
                progress.advance(len(self.seeds))
        return out

    def assignment(self, slot: Slot) -> Assignment:
        """The trial answering `slot` alone (its arm plans every seed at its sparsity, as arms
        do; no search spend is measured)."""
        plans = self.plan(slot.arm, slot.sparsity)
        return self._assignment(slot, plans[self.seeds.index(slot.seed)], Spend())

    def _assignment(self, slot: Slot, plan: TrialPlan, scoring: Spend) -> Assignment:
        spec = TrialSpec(self.run, self.config.search.space, self.peer(slot.arm).spec(), plan.mask.digest(),
                         plan.start_spec, plan.hook_spec, slot.seed, _epochs(plan, self.config))
        return Assignment(slot, plan, spec, plan.search + scoring)


def run_mask_study(config: Config, data: Dataset, store: Store, progress: Progress | None = None,
                   executor: Executor = IN_PROCESS) -> MaskRun:
    """Run (or continue) the experiment: train only the planned trials the store lacks, as
    populations on `executor`, recording each population as it finishes. `[log]`'s loggers
    receive every planned trial once: the reused ones first, the others as they are recorded."""
    progress = progress or Progress()
    tracking = Tracking(config)
    planning = Planning(config, data, store, progress, executor)
    assignments = planning.assignments(progress)
    trainer = planning.trainer

    name = config.experiment.name
    keys = [a.key for a in assignments]
    done = store.done_keys(keys)
    if config.store.save_weights is True:  # "auto" keeps the weights of what it trains, retrains nothing for them
        done &= store.keys_with_weights(keys)  # retrain (bitwise identically) to obtain the weights
    pending: dict[str, list[Assignment]] = defaultdict(list)
    for assignment in assignments:
        if assignment.key not in done:
            pending[assignment.key].append(assignment)
    populations = _populations(list(pending.values()), config.engine.max_population)
    _check_shapes(trainer, populations)

    with tracking.running():
        failed = _train(config, trainer, store, assignments, done, populations, progress, tracking)
    if config.measure.latency:  # after training: nothing else of the run computes while trials are timed
        measure_experiment(store, name, config, trainer.device, config.engine.thread_choice.count, progress)
    return MaskRun(export_rows(store, name), trained=len(pending) - failed, failed=failed,
                   reused=len(assignments) - sum(map(len, pending.values())), pretrained=planning.cache.trained_now)


def _train(config: Config, trainer: Trainer, store: Store, assignments: list[Assignment], done: set[str],
           populations: list[list[list[Assignment]]], progress: Progress, tracking: Tracking) -> int:
    """Record the plan and its reused trials, train the populations, recording (and logging) each
    as it finishes; return how many planned trials failed."""
    name = config.experiment.name
    store.begin_experiment(name, to_toml(config), len(assignments))
    reused = [_link(a) for a in assignments if a.key in done]
    store.record(name, [], reused)
    tracking.trials(store, reused)
    record_audits(store, name, [(_link(a), a.plan.audit) for a in assignments if a.plan.audit is not None])
    record_search(store, name, {a.key: (a.search.epochs, a.search.seconds) for a in assignments})
    record_anytime(store, name, [(_link(a), a.plan.anytime) for a in assignments if a.plan.anytime])
    progress.phase("training", sum(len(p) * _trained_epochs(p, config) for p in populations))
    failed = 0
    for epochs in sorted({_trained_epochs(p, config) for p in populations}):
        todo = [p for p in populations if _trained_epochs(p, config) == epochs]
        jobs = (population_chunk(trainer, [group[0] for group in population], config.store.save_weights is not False)
                for population in todo)
        for index, result in trainer.for_epochs(epochs).train_many(jobs, progress.advance):
            links = [_link(a) for group in todo[index] for a in group]
            if isinstance(result, TaskFailure):
                store.record_failures(name, links, result.reason)
                failed += len(todo[index])
                continue
            trials, weights = trial_records(trainer, [group[0] for group in todo[index]], result, config.store.save_weights)
            store.record(name, trials, links, weights)
            tracking.trials(store, links)
    return failed


def _epochs(plan: TrialPlan, config: Config) -> int | None:
    """The epochs a trial's key records: None when it trains for the recipe's."""
    return None if plan.epochs in (None, config.train.epochs) else plan.epochs


def trained_epochs(assignment: Assignment, config: Config) -> int:
    """The epochs a trial trains for."""
    return assignment.plan.epochs or config.train.epochs


def _trained_epochs(population: list[list[Assignment]], config: Config) -> int:
    """The epochs a population of trials trains for."""
    return trained_epochs(population[0][0], config)


def _link(assignment: Assignment) -> PlanLink:
    s = assignment.slot
    return PlanLink(s.arm, s.sparsity, s.seed, assignment.key)


def _populations(groups: list[list[Assignment]], max_population: int) -> list[list[list[Assignment]]]:
    """Split groups of identical trials into populations of equal shapes and epochs, at most
    `max_population` networks each."""
    by_shape: dict[tuple, list[list[Assignment]]] = defaultdict(list)
    for group in groups:
        by_shape[(group[0].spec.epochs or 0, group[0].plan.mask.shape_key())].append(group)
    return [
        same[start : start + max_population]
        for _, same in sorted(by_shape.items(), reverse=True)
        for start in range(0, len(same), max_population)
    ]


def _check_shapes(trainer: Trainer, populations: list[list[list[Assignment]]]) -> None:
    """Build one network of each shape to train before the store changes, so a mask the parent
    cannot build (a layer left empty) is said before the experiment's plan is replaced."""
    shapes = {population[0][0].plan.mask.shape_key(): population[0][0] for population in populations}
    for assignment in shapes.values():
        try:
            population_chunk(trainer, [assignment])
        except SparsearchError:
            raise
        except (RuntimeError, IndexError, ValueError) as error:
            slot = assignment.slot
            raise SparsearchError(
                f"arms.{slot.arm} at sparsity {slot.sparsity:g}: the parent cannot be built from its mask "
                f"({one_line(error)}); lower search.sparsities or widen the parent"
            ) from None


def population_chunk(trainer: Trainer, assignments: list[Assignment], keep_best: bool = False) -> Chunk:
    """One population to train: the trials' start weights, compacted (node space) or masked
    (weight space), stacked, tested once at the end (`Chunk.test_once`: a trial stores test
    accuracy at its best validation epoch and its last, never a per-epoch test curve);
    `keep_best`: returning each network's best-validation weights."""
    net = trainer.parent
    plans = [a.plan for a in assignments]
    weight_space = isinstance(plans[0].mask, WeightMask)
    members = [stacked([p.start]) if weight_space else net.compact(p.start, [p.mask])
               for p in plans]
    depth = len(members[0])
    masks = [torch.stack([p.mask.layers[i] for p in plans]) for i in range(depth)] if weight_space else None
    return Chunk(joined(members), [a.slot.seed for a in assignments], masks,
                 [p.hook for p in plans] if weight_space else None, keep_best=keep_best, test_once=True)


def trial_records(trainer: Trainer, assignments: list[Assignment], curves: Curves, save_weights: bool | str
             ) -> tuple[list[TrialRecord], dict[str, TrialWeights]]:
    """A trained population's trial records and, as `save_weights` asks (true, false or "auto":
    networks of at most AUTO_WEIGHTS_BYTES), their weights by key: the final ones and, where
    its best validation epoch is not the last, the best ones (with that epoch's masks where
    they differ from the final ones)."""
    net = trainer.parent
    trials, weights = [], {}
    for p, assignment in enumerate(assignments):
        mask = WeightMask(tuple(m[p] for m in curves.masks)) if curves.masks is not None else assignment.plan.mask
        record = {"train_loss": curves.train_loss[p].tolist(), "val_acc": curves.val_acc[p].tolist()}
        metrics = tested_metrics(record["train_loss"], record["val_acc"], curves.test_best[p].item(),
                                 curves.test_final[p].item())
        trials.append(TrialRecord(
            key=assignment.key, dataset=trainer.data.name, mask=mask.to_json(), **vars(net.cost(mask)), **metrics,
            train_seconds=curves.seconds / len(assignments), curves=record, spec=assignment.spec.to_json(),
        ))
        final = net.state_dict(rows(curves.final, p))
        if save_weights is True or (save_weights == "auto" and state_bytes(final) <= AUTO_WEIGHTS_BYTES):
            weights[assignment.key] = _weights(net, curves, p, final, metrics["best_epoch"] < len(record["val_acc"]))
    return trials, weights


def _weights(net, curves: Curves, p: int, final: dict, best_differs: bool) -> TrialWeights:
    """Network `p`'s weights to store."""
    if not best_differs:
        return TrialWeights(final)
    masks = None if curves.best_masks is None else [m[p] for m in curves.best_masks]
    if masks is not None and all(torch.equal(m, f[p]) for m, f in zip(masks, curves.masks)):
        masks = None
    return TrialWeights(final, net.state_dict(rows(curves.best, p)), masks)


def state_bytes(state: dict[str, torch.Tensor]) -> int:
    """Bytes of a state dict's tensors."""
    return sum(t.numel() * t.element_size() for t in state.values())
