"""Training an arm needs before it can choose a mask (trained dense parents, lottery rounds).

Every such training runs as one population across seeds through the run's `Trainer`, and its
result is cached twice: in memory for the run (arms and sparsities share it), and in the
store, keyed by a hash of everything that determines it, so a resumed run retrains nothing
that was finished (an interrupted lottery keeps its finished rounds). Each training's seconds
are kept beside it (a shared record), so what choosing a mask spent (`Spend`) counts a reused
training as it counts a new one."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from ..engine.trainer import Trainer
from ..nets.base import Params, cloned, joined, rows, stacked
from ..progress import Progress
from ..specs import RunSpec, TrainingSpec
from ..spaces.node import NodeMask, full_mask
from ..spaces.weight import WeightMask, full_weight_mask


@dataclass(frozen=True)
class Training:
    """One network to train with the recipe: from `start` (described by `start_spec`), in the
    data order of `seed`, with its weights masked by `mask` if given."""

    start: Params
    start_spec: object
    seed: int
    mask: WeightMask | NodeMask | None = None


CURVES = ("train_loss", "val_acc", "test_acc")

TRAINING_SECONDS = "training_seconds"
"""Shared record type: a stored training's seconds (per network), by its key."""


@dataclass(frozen=True)
class Spend:
    """What choosing a mask spent: `epochs` in dense-parent epochs (network-epochs of training,
    each weighted by its network's FLOPs relative to the dense parent; a forward pass over the
    training set is a third of an epoch, a backward pass two thirds) and `seconds` (None where
    some of it ran before seconds were recorded)."""

    epochs: float = 0.0
    seconds: float | None = 0.0

    def __add__(self, other: "Spend") -> "Spend":
        seconds = None if self.seconds is None or other.seconds is None else self.seconds + other.seconds
        return Spend(self.epochs + other.epochs, seconds)


def total(spends) -> Spend:
    return sum(spends, Spend())


def _packed(weights: Params, state: list[Params]) -> dict[str, torch.Tensor]:
    """One network's weights and optimizer buffers as named tensors (an artifact)."""
    named = {}
    for prefix, params in (("weights", weights), *((f"state{k}", s) for k, s in enumerate(state))):
        named.update((f"{prefix}.{i}.{j}", t.contiguous()) for i, layer in enumerate(params) for j, t in enumerate(layer))
    return named


def _unpacked(named: dict[str, torch.Tensor]) -> tuple[Params, list[Params]]:
    groups: dict[str, dict[int, dict[int, torch.Tensor]]] = {}
    for name, tensor in named.items():
        prefix, i, j = name.split(".")
        groups.setdefault(prefix, {}).setdefault(int(i), {})[int(j)] = tensor
    params = {prefix: [tuple(layer[j] for j in sorted(layer)) for _, layer in sorted(layers.items())]
              for prefix, layers in groups.items()}
    return params["weights"], [params[f"state{k}"] for k in range(len(params) - 1)]


def trained_spec(seed: int, epochs: int) -> dict:
    """The start spec of weights obtained by training seed's dense parent `epochs` epochs."""
    return {"trained_parent": seed, "epochs": epochs}


class TrainingCache:
    """Parents at initialisation and trained networks of one run, backed by the store's artifacts."""

    def __init__(self, trainer: Trainer, run: RunSpec, store=None, progress: Progress | None = None):
        self.trainer, self.run, self.store = trainer, run, store
        self.progress = progress or Progress()
        self.parents: dict[int, Params] = {}
        self.memory: dict[str, object] = {}  # trained weights (Params) or curves (named tensors)
        self.seconds: dict[str, float] = {}  # each training's seconds per network, by key
        self.checkpoints: dict[str, tuple[Params, list[Params]]] = {}  # weights and optimizer state, by key
        self.trained_now = 0  # networks this run had to train (not found in memory or the store)
        self.training_seconds = 0.0  # wall seconds this run spent training them
        self._dense_flops: dict[type, int] = {}  # the parent's FLOPs, measured in each space

    def parent(self, seed: int) -> Params:
        if seed not in self.parents:
            self.parents[seed] = self.trainer.parent.init(seed)
        return self.parents[seed]

    def key(self, job: Training, epochs: int, what: str = "weights") -> str:
        return TrainingSpec(self.run, job.start_spec, job.seed, epochs, None if job.mask is None else job.mask.digest(),
                            what).key

    def trained(self, jobs: list[Training], label: str, snapshot_epoch: int | None = None) -> list[tuple[Params, Params | None]]:
        """(final weights, weights after `snapshot_epoch` epochs or None) of each job; the jobs
        not cached are trained together as one population (all masked or none)."""
        epochs = self.trainer.recipe.epochs
        wanted = [epochs] + ([snapshot_epoch] if snapshot_epoch else [])
        keys = [[self.key(job, e) for e in wanted] for job in jobs]
        self._load([k for ks in keys for k in ks if k not in self.memory])
        missing = [i for i, ks in enumerate(keys) if any(k not in self.memory for k in ks)]
        if missing:
            self._train([jobs[i] for i in missing], [keys[i] for i in missing], label, snapshot_epoch)
        return [(self.memory[ks[0]], self.memory[ks[1]] if snapshot_epoch else None) for ks in keys]

    def curves(self, jobs: list[Training], label: str, epochs: int | None = None,
               resume_from: int = 0, checkpoint: bool = False) -> list[dict[str, list[float]]]:
        """Per-epoch train loss, validation and test accuracy of each node-masked job trained
        (compacted) for the first `epochs` epochs of the recipe (all of them if None); the jobs
        not cached are trained as one population, from their start, or from their checkpoints
        after `resume_from` epochs (`keep_checkpoints`; one that is missing is retrained to
        there first). With `checkpoint` the trainings keep their checkpoints in memory, to be
        continued. The first `epochs` epochs of the recipe are the same whether trained at once
        or continued, so both share one key."""
        epochs = epochs or self.trainer.recipe.epochs
        keys = [self.key(job, epochs, "curves") for job in jobs]
        self._load([k for k in keys if k not in self.memory], curves=True)
        missing = [i for i, k in enumerate(keys) if k not in self.memory]
        if missing:
            todo = [jobs[i] for i in missing]
            layers, state, before = self._resume(todo, resume_from, label)
            self.progress.phase(label, len(todo) * (epochs - resume_from))
            started = time.perf_counter()
            result = self.trainer.train(layers, [j.seed for j in todo], on_epoch=self.progress.advance,
                                        start_epoch=resume_from, stop_epoch=epochs, optimizer_state=state,
                                        keep_state=checkpoint)
            self._record_seconds([keys[i] for i in missing], time.perf_counter() - started)
            found = {keys[i]: {name: torch.cat([before[p][name], getattr(result, name)[p]]) for name in CURVES}
                     for p, i in enumerate(missing)}
            if self.store is not None:
                self.store.record_artifacts(found)
            self.memory.update(found)
            if checkpoint:
                for p, job in enumerate(todo):
                    self.checkpoints[self.key(job, epochs, "checkpoint")] = (
                        cloned(rows(result.final, p)), [cloned(rows(s, p)) for s in result.state])
            self.trained_now += len(todo)
        return [{name: self.memory[k][name].tolist() for name in CURVES} for k in keys]

    def keep_checkpoints(self, jobs: list[Training], epochs: int) -> None:
        """Store the checkpoints after `epochs` epochs that this run made for `jobs` (the ones
        a later `curves(..., resume_from=epochs)` continues)."""
        keys = [self.key(job, epochs, "checkpoint") for job in jobs]
        fresh = {k: _packed(*self.checkpoints[k]) for k in keys if k in self.checkpoints}
        if self.store is not None and fresh:
            self.store.record_artifacts(fresh)

    def _resume(self, jobs: list[Training], epochs: int, label: str):
        """Stacked compacted networks of `jobs` after `epochs` epochs, their optimizer state
        (None at 0) and their curves so far, from checkpoints in memory or the store."""
        if epochs == 0:
            empty = {name: torch.zeros(0) for name in CURVES}
            return joined([self.trainer.parent.compact(j.start, [j.mask]) for j in jobs]), None, [empty] * len(jobs)
        keys = [self.key(job, epochs, "checkpoint") for job in jobs]
        if self.store is not None:
            wanted = [k for k in keys if k not in self.checkpoints]
            self.checkpoints.update((k, _unpacked(t)) for k, t in self.store.artifacts(wanted).items())
        lost = [(job, key) for job, key in zip(jobs, keys) if key not in self.checkpoints]
        if lost:  # interrupted between storing a rung's curves and its checkpoints: the same training again
            layers = joined([self.trainer.parent.compact(j.start, [j.mask]) for j, _ in lost])
            result = self.trainer.train(layers, [j.seed for j, _ in lost], stop_epoch=epochs, keep_state=True,
                                        evaluate_epochs=False)
            for p, (_, key) in enumerate(lost):
                self.checkpoints[key] = (cloned(rows(result.final, p)), [cloned(rows(s, p)) for s in result.state])
        before = [{name: torch.tensor(c[name]) for name in CURVES} for c in self.curves(jobs, label, epochs)]
        weights = [self.checkpoints[k][0] for k in keys]
        states = [self.checkpoints[k][1] for k in keys]
        state = [stacked([s[i] for s in states]) for i in range(len(states[0]))]
        return stacked(weights), state, before

    def flops_ratio(self, mask: WeightMask | NodeMask | None) -> float:
        """The FLOPs of `mask`'s network relative to the dense parent's (1 for no mask)."""
        if mask is None:
            return 1.0
        parent, space = self.trainer.parent, type(mask)
        if space not in self._dense_flops:  # a weight-space parent may have no node groups
            full = full_weight_mask(parent.weight_shapes) if space is WeightMask else full_mask(parent.widths[1:-1])
            self._dense_flops[space] = parent.cost(full).flops
        return parent.cost(mask).flops / self._dense_flops[space]

    def pass_epochs(self, passes: float, mask: WeightMask | NodeMask | None = None) -> float:
        """Dense-parent epochs of `passes` forward-pass equivalents of single examples (a
        backward pass counts 2) through the network of `mask` (the parent's if None)."""
        return passes / (3 * self.trainer.data.x_train.shape[0]) * self.flops_ratio(mask)

    def spent(self, jobs: list[Training], what: str = "weights", epochs: int | None = None,
              resume_from: int = 0) -> list[Spend]:
        """What each job's training spent, whether it ran now or was found: its epochs (the
        recipe's, or those from `resume_from` to `epochs` of `curves`) weighted by its network's
        FLOPs, and its seconds as recorded when it ran."""
        epochs = epochs or self.trainer.recipe.epochs
        keys = [self.key(job, epochs, what) for job in jobs]
        self._load_seconds([k for k in keys if k not in self.seconds])
        return [Spend((epochs - resume_from) * self.flops_ratio(job.mask), self.seconds.get(key))
                for job, key in zip(jobs, keys)]

    def parent_spend(self, seeds: tuple[int, ...]) -> dict[int, Spend]:
        """What each seed's trained dense parent spent (`trained_parents`)."""
        return dict(zip(seeds, self.spent(self._parent_jobs(seeds))))

    def _load(self, keys: list[str], curves: bool = False) -> None:
        if self.store is not None and keys:
            for key, tensors in self.store.artifacts(keys).items():
                self.memory[key] = tensors if curves else self.trainer.parent.from_state_dict(tensors)

    def _load_seconds(self, keys: list[str]) -> None:
        if self.store is not None:
            for key in keys:
                self.seconds.update(self.store.shared(TRAINING_SECONDS, key))

    def _record_seconds(self, keys: list[str], seconds: float) -> None:
        """Note `seconds` of training for the networks `keys` (shared evenly), in the store too."""
        self.training_seconds += seconds
        each = {key: seconds / len(keys) for key in keys}
        self.seconds.update(each)
        if self.store is not None:
            self.store.write_shared(TRAINING_SECONDS, each)

    def _train(self, jobs: list[Training], keys: list[list[str]], label: str, snapshot_epoch: int | None) -> None:
        layers = stacked([j.start for j in jobs])
        masks = None
        if jobs[0].mask is not None:
            masks = [torch.stack([j.mask.layers[i] for j in jobs]) for i in range(len(layers))]
        self.progress.phase(label, len(jobs) * self.trainer.recipe.epochs)
        started = time.perf_counter()
        curves = self.trainer.train(layers, [j.seed for j in jobs], masks=masks, snapshot_epoch=snapshot_epoch,
                                    on_epoch=self.progress.advance, evaluate_epochs=False)
        self._record_seconds([ks[0] for ks in keys], time.perf_counter() - started)
        found = {}
        for p, ks in enumerate(keys):
            found[ks[0]] = cloned(rows(curves.final, p))
            if snapshot_epoch:
                found[ks[1]] = cloned(rows(curves.snapshot, p))
        if self.store is not None:
            self.store.record_artifacts({key: self.trainer.parent.state_dict(value) for key, value in found.items()})
        self.memory.update(found)
        self.trained_now += len(jobs)

    def trained_parents(self, seeds: tuple[int, ...], snapshot_epoch: int | None = None):
        """Each seed's dense parent trained with the recipe (and, if asked, after `snapshot_epoch` epochs)."""
        return dict(zip(seeds, self.trained(self._parent_jobs(seeds), "trained parents", snapshot_epoch)))

    def _parent_jobs(self, seeds: tuple[int, ...]) -> list[Training]:
        return [Training(self.parent(s), {"init": s}, s) for s in seeds]

