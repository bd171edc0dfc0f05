"""Training an arm needs before it can choose a mask (trained dense parents, lottery rounds).

Every such training runs as one population across seeds through the run's `Trainer`, and its
result is cached twice: in memory for the run (arms and sparsities share it), and in the
store, keyed by a hash of everything that determines it, so a resumed run retrains nothing
that was finished (an interrupted lottery keeps its finished rounds)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..engine.trainer import Trainer
from ..nets.base import Params, cloned, joined, rows, stacked
from ..progress import Progress
from ..specs import RunSpec, TrainingSpec
from ..spaces.node import NodeMask
from ..spaces.weight import WeightMask


@dataclass(frozen=True)
class Training:
    """One network to train with the recipe: from `start` (described by `start_spec`), in the
    data order of `seed`, with its weights masked by `mask` if given."""

    start: Params
    start_spec: object
    seed: int
    mask: WeightMask | NodeMask | None = None


CURVES = ("train_loss", "val_acc", "test_acc")


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
        self.trained_now = 0  # networks this run had to train (not found in memory or the store)

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

    def curves(self, jobs: list[Training], label: str) -> list[dict[str, list[float]]]:
        """Per-epoch train loss, validation and test accuracy of each node-masked job trained
        (compacted) with the recipe; the jobs not cached are trained as one population."""
        keys = [self.key(job, self.trainer.recipe.epochs, "curves") for job in jobs]
        self._load([k for k in keys if k not in self.memory], curves=True)
        missing = [i for i, k in enumerate(keys) if k not in self.memory]
        if missing:
            todo = [jobs[i] for i in missing]
            compacted = [self.trainer.parent.compact(j.start, [j.mask]) for j in todo]
            layers = joined(compacted)
            self.progress.phase(label, len(todo) * self.trainer.recipe.epochs)
            result = self.trainer.train(layers, [j.seed for j in todo], on_epoch=self.progress.advance)
            found = {keys[i]: {name: getattr(result, name)[p].clone() for name in CURVES}
                     for p, i in enumerate(missing)}
            if self.store is not None:
                self.store.record_artifacts(found)
            self.memory.update(found)
            self.trained_now += len(todo)
        return [{name: self.memory[k][name].tolist() for name in CURVES} for k in keys]

    def _load(self, keys: list[str], curves: bool = False) -> None:
        if self.store is not None and keys:
            for key, tensors in self.store.artifacts(keys).items():
                self.memory[key] = tensors if curves else self.trainer.parent.from_state_dict(tensors)

    def _train(self, jobs: list[Training], keys: list[list[str]], label: str, snapshot_epoch: int | None) -> None:
        layers = stacked([j.start for j in jobs])
        masks = None
        if jobs[0].mask is not None:
            masks = [torch.stack([j.mask.layers[i] for j in jobs]) for i in range(len(layers))]
        self.progress.phase(label, len(jobs) * self.trainer.recipe.epochs)
        curves = self.trainer.train(layers, [j.seed for j in jobs], masks=masks, snapshot_epoch=snapshot_epoch,
                                    on_epoch=self.progress.advance, evaluate_epochs=False)
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
        jobs = [Training(self.parent(s), {"init": s}, s) for s in seeds]
        return dict(zip(seeds, self.trained(jobs, "trained parents", snapshot_epoch)))

