"""Train P networks at once: stacked parameters, one bmm per layer, one optimizer step for all.

Each network's loss is the mean cross-entropy (label-smoothed if the recipe says so) over its
own mini-batch; the population loss is their sum, so every network receives exactly the
gradient it would receive alone, and the optimizers (SGD, Adam, AdamW) act elementwise on one
flat buffer (engine/optim.py) at the rate the schedule gives the step (engine/schedule.py). A
network's batches are augmented with draws of its own seed (engine/augment.py). A network
trained inside a population therefore follows the same trajectory, bitwise, as trained alone
(tests/test_engine.py holds that, in fp32 and in bf16).

A chunk trains on the setting's device (engine/device.py): its layers, masks and a copy of the
data (made once per process) move there, and its `Curves` come back on the CPU.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import TrainConfig
from ..data import Dataset
from ..errors import SparsearchError
from ..nets.base import Params, Parent, joined, population_size
from ..seeding import generator
from .augment import Augmentation
from .best import BestWeights
from .chunking import DEFAULT_MAX_MEMORY, chunk_slices
from .device import dataset_on, moved, on_cpu
from .executor import IN_PROCESS, Chunk, Executor, OnEpoch, Setting, TaskFailure
from .masking import Masking, StepHook
from .optim import FlatOptimizer
from .precision import Precision, dtype_of, lowered
from .step import loss_and_grads

EVAL_CACHE_BYTES = 8 * 2**20
"""Evaluation runs on chunks of examples whose widest activation, P x rows x width floats,
stays about this size: a cache-sized working set (larger ones make evaluation memory-bound)."""


@dataclass
class Curves:
    """Per-epoch records of a population, each [P, epochs trained] (`test_acc` empty where the
    chunk tested once), its final (masked) parameters, final weight masks (if masked) and, if
    asked for, the parameters after one epoch, the optimizer's state at the end
    (`FlatOptimizer.state`), the parameters at each network's best validation epoch, with that
    epoch's weight masks where hooks changed them (engine/best.py), and, where the chunk tested
    once (`Chunk.test_once`), the test accuracy [P] of the best-validation and the final weights."""

    train_loss: Tensor
    val_acc: Tensor
    test_acc: Tensor
    seconds: float
    final: Params | None = None
    masks: list[Tensor] | None = None
    snapshot: Params | None = None
    state: list[Params] | None = None
    best: Params | None = None
    best_masks: list[Tensor] | None = None
    test_best: Tensor | None = None
    test_final: Tensor | None = None


def batch_orders(order_seeds: list[int], n: int, batch_size: int, device: str | torch.device = "cpu",
                 from_epoch: int = 0) -> Iterator[Tensor]:
    """Endless mini-batch indices [P, b]: network p reads the training set in the order of
    its seed, one fresh permutation per epoch; networks sharing a seed share the order. The
    permutations are drawn on the CPU (the same on every device) and moved to `device`. With
    `from_epoch` = k the first k epochs' permutations are drawn and skipped (a continued training)."""
    unique = sorted(set(order_seeds))
    gens = {s: generator("data-order", s) for s in unique}
    for s in unique:
        for _ in range(from_epoch):
            torch.randperm(n, generator=gens[s])
    rows = torch.tensor([unique.index(s) for s in order_seeds])
    while True:
        perms = torch.stack([torch.randperm(n, generator=gens[s]) for s in unique])[rows].to(device)
        for start in range(0, n, batch_size):
            yield perms[:, start : start + batch_size]


def gathered(rows: Tensor, idx: Tensor) -> Tensor:
    """`rows[idx]` for indices idx [P, b]: one `index_select` (3-8x faster than advanced indexing
    on the CPU, and the same values)."""
    return rows.index_select(0, idx.reshape(-1)).view(*idx.shape, *rows.shape[1:])


def sgd_steps(
    parent: Parent, optimizer: FlatOptimizer, data: Dataset, batches: Iterator[Tensor], steps: int,
    masking: Masking | None = None, dtype: torch.dtype = torch.float32, augmentation: Augmentation | None = None,
) -> Tensor:
    """Run `steps` optimizer steps, each batch augmented by `augmentation` if given; return the
    example-weighted mean training loss [P]."""
    total = torch.zeros(population_size(optimizer.params), dtype=torch.float64, device=optimizer.flat.device)
    seen = 0
    for _ in range(steps):
        idx = next(batches)
        x = gathered(data.x_train, idx)
        if augmentation is not None:
            x = augmentation(x, *divmod(optimizer.steps, optimizer.steps_per_epoch))
        loss = loss_and_grads(parent, optimizer.params, x, gathered(data.y_train, idx), optimizer.grads, optimizer.decay,
                              dtype, optimizer.recipe.label_smoothing)
        optimizer.step()
        if masking is not None:
            masking.after_step(optimizer.params)
        total += loss.double() * idx.shape[1]
        seen += idx.shape[1]
    return (total / seen).float()


@torch.no_grad()
def evaluate(parent: Parent, layers: Params, x: Tensor, y: Tensor,
             dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """(mean loss, accuracy) of every network on the shared examples x [N, F]: two [P] tensors;
    the forward pass in `dtype`, the loss in fp32."""
    population = population_size(layers)
    loss_sum = torch.zeros(population, dtype=torch.float64, device=x.device)
    correct = torch.zeros_like(loss_sum)
    _, widest = parent.footprint(layers, 1)
    step = max(16, EVAL_CACHE_BYTES // (4 * population * widest))
    low = lowered(layers, dtype)
    for start in range(0, x.shape[0], step):
        xb, yb = x[start : start + step], y[start : start + step]
        logits = parent.forward(low, xb.to(dtype)).float()
        target = yb.expand(logits.shape[0], -1)
        loss_sum += F.cross_entropy(logits.transpose(1, 2), target, reduction="none").double().sum(1)
        correct += (logits.argmax(-1) == target).double().sum(1)
    return (loss_sum / x.shape[0]).float(), (correct / x.shape[0]).float()


@torch.no_grad()
def calibrate(parent: Parent, params: Params, data: Dataset) -> None:
    """Set the normalization statistics of a parent with BatchNorm from the training set
    (`Parent.calibrate`); nothing for parents without."""
    own = getattr(parent, "calibrate", None)
    if own is not None:
        own(params, data.x_train)


def steps_per_epoch(n: int, batch_size: int) -> int:
    return -(-n // batch_size)


def augmentation_of(augment: tuple[str, ...], data: Dataset, order_seeds: list[int]) -> Augmentation | None:
    """The augmentation of the training batches of networks reading data in `order_seeds`' orders
    (None without)."""
    return Augmentation(tuple(augment), data.shape, tuple(order_seeds)) if augment else None


def train_population(
    parent: Parent,
    layers: Params,
    order_seeds: list[int],
    data: Dataset,
    recipe: TrainConfig,
    on_epoch: OnEpoch | None = None,
    masks: list[Tensor] | None = None,
    hooks: list[StepHook | None] | None = None,
    snapshot_epoch: int | None = None,
    max_memory: int = DEFAULT_MAX_MEMORY,
    evaluate_epochs: bool = True,
    precision: Precision = "fp32",
    device: str = "cpu",
) -> Curves:
    """Train the stacked networks `layers` of `parent` for `recipe.epochs` in this process
    (`Trainer.train` with the in-process executor) on `device` (a resolved one)."""
    trainer = Trainer(parent, data, recipe, max_memory, precision=precision, device=device)
    return trainer.train(layers, order_seeds, masks=masks, hooks=hooks, snapshot_epoch=snapshot_epoch,
                         on_epoch=on_epoch, evaluate_epochs=evaluate_epochs)


def train_chunk(setting: Setting, chunk: Chunk, on_epoch: OnEpoch | None = None) -> Curves:
    """Train one chunk with the setting's recipe: the work unit every executor runs."""
    start = time.perf_counter()
    recipe, parent, dtype, device = setting.recipe, setting.parent, dtype_of(setting.precision), setting.device
    data = dataset_on(setting.data, device)
    n = data.x_train.shape[0]
    state = None if chunk.optimizer_state is None else [moved(s, device) for s in chunk.optimizer_state]
    per_epoch = steps_per_epoch(n, recipe.batch_size)
    optimizer = FlatOptimizer(moved(chunk.layers, device), recipe, per_epoch, state, chunk.start_epoch * per_epoch)
    params = optimizer.params
    masking = None if chunk.masks is None else Masking(moved(chunk.masks, device), chunk.hooks)
    if masking is not None:
        masking.zero_pruned(params)
    batches = batch_orders(chunk.order_seeds, n, recipe.batch_size, device, chunk.start_epoch)
    augmentation = augmentation_of(setting.augment, data, chunk.order_seeds)
    losses, vals, tests = [], [], []
    snapshot = None
    best = BestWeights(params, masking) if (chunk.keep_best or chunk.test_once) and chunk.evaluate_epochs else None
    for epoch in range(chunk.start_epoch + 1, (chunk.stop_epoch or recipe.epochs) + 1):
        losses.append(sgd_steps(parent, optimizer, data, batches, per_epoch, masking, dtype, augmentation))
        if chunk.evaluate_epochs:
            calibrate(parent, params, data)
            vals.append(evaluate(parent, params, data.x_val, data.y_val, dtype)[1])
            if not chunk.test_once:
                tests.append(evaluate(parent, params, data.x_test, data.y_test, dtype)[1])
            if best is not None:
                best.update(vals[-1], params, masking)
        if epoch == chunk.snapshot_epoch:
            snapshot = optimizer.snapshot()
        if on_epoch is not None:
            on_epoch(chunk.size)
    if not chunk.evaluate_epochs:
        calibrate(parent, params, data)
    tested = (None, None)
    if chunk.test_once and best is not None:  # the same evaluation, bit for bit, as at those epochs
        tested = tuple(on_cpu(evaluate(parent, p, data.x_test, data.y_test, dtype)[1]) for p in (best.params, params))
    kept = best if chunk.keep_best else None
    empty = torch.zeros(chunk.size, 0)
    return Curves(
        on_cpu(torch.stack(losses, 1)), on_cpu(torch.stack(vals, 1)) if vals else empty,
        on_cpu(torch.stack(tests, 1)) if tests else empty, time.perf_counter() - start,
        on_cpu(optimizer.snapshot()), None if masking is None else on_cpu(masking.final()), on_cpu(snapshot),
        [on_cpu(s) for s in optimizer.state()] if chunk.keep_state else None,
        None if kept is None else on_cpu(kept.params), None if kept is None else on_cpu(kept.bool_masks()), *tested,
    )


def _joined(parts: list[Curves]) -> Curves:
    """One population's curves from those of its consecutive chunks."""
    if len(parts) == 1:
        return parts[0]

    def layers(get):
        first = get(parts[0])
        if first is None:
            return None
        return joined([get(p) for p in parts])

    def masks(get):
        first = get(parts[0])
        return None if first is None else [torch.cat([get(p)[i] for p in parts]) for i in range(len(first))]

    def tensors(get):
        return None if get(parts[0]) is None else torch.cat([get(p) for p in parts])

    state = None if parts[0].state is None else [joined([p.state[i] for p in parts]) for i in range(len(parts[0].state))]
    return Curves(
        torch.cat([p.train_loss for p in parts]), torch.cat([p.val_acc for p in parts]),
        torch.cat([p.test_acc for p in parts]), sum(p.seconds for p in parts),
        layers(lambda p: p.final), masks(lambda p: p.masks), layers(lambda p: p.snapshot), state,
        layers(lambda p: p.best), masks(lambda p: p.best_masks), tensors(lambda p: p.test_best),
        tensors(lambda p: p.test_final),
    )


@dataclass(frozen=True, eq=False)
class Trainer:
    """The engine bound once to a parent kind, the data, the training recipe, the limits
    (memory budget, population size), the precision, the executor (where chunks train), the
    device (where they compute; resolved, engine/device.py) and the augmentation of training
    batches (`[data] augment`, engine/augment.py): what arms and experiments train through. `data` stays on the CPU, as arms read it; the engine computes on its copy on the
    device, and every result comes back on the CPU."""

    parent: Parent
    data: Dataset
    recipe: TrainConfig
    max_memory: int = DEFAULT_MAX_MEMORY
    max_population: int = 256
    precision: Precision = "fp32"
    executor: Executor = IN_PROCESS
    device: str = "cpu"
    augment: tuple[str, ...] = ()

    @property
    def dtype(self) -> torch.dtype:
        return dtype_of(self.precision)

    @property
    def device_data(self) -> Dataset:
        """The data on the trainer's device (copied once per process)."""
        return dataset_on(self.data, self.device)

    def setting(self) -> Setting:
        return Setting(self.parent, self.data, self.recipe, self.precision, self.device, self.augment)

    def for_epochs(self, epochs: int | None) -> "Trainer":
        """This trainer with the recipe trained for `epochs` (None or the recipe's: itself)."""
        if epochs is None or epochs == self.recipe.epochs:
            return self
        return replace(self, recipe=self.recipe.model_copy(update={"epochs": epochs}))

    def train_many(self, populations: Iterable[Chunk], on_epoch: OnEpoch | None = None
                   ) -> Iterator[tuple[int, Curves | TaskFailure]]:
        """Train `populations` with the recipe, each split into chunks within the memory budget
        (chunking.py) that the executor trains; yield (index, `Curves`) as each population
        finishes, in any order, or (index, `TaskFailure`) at its first chunk that failed."""
        owners: list[int] = []
        left: dict[int, int] = {}  # population -> its number of chunks
        done: dict[int, dict[int, Curves]] = defaultdict(dict)
        failed: set[int] = set()

        def chunks() -> Iterator[Chunk]:
            for index, population in enumerate(populations):
                footprint = self.parent.footprint(population.layers, self.recipe.batch_size)
                parts = chunk_slices(population.size, footprint, self.recipe.batch_size, self.max_memory,
                                     device=self.device)
                left[index] = len(parts)
                for part in parts:
                    owners.append(index)
                    yield population.part(part)

        for at, result in self.executor.run(train_chunk, self.setting(), chunks(), on_epoch):
            index = owners[at]
            if index in failed:
                continue
            if isinstance(result, TaskFailure):
                failed.add(index)
                yield index, result
                continue
            done[index][at] = result
            if len(done[index]) == left[index]:
                parts = done.pop(index)
                yield index, _joined([parts[k] for k in sorted(parts)])

    def train(
        self,
        layers: Params,
        order_seeds: list[int],
        *,
        masks: list[Tensor] | None = None,
        hooks: list[StepHook | None] | None = None,
        snapshot_epoch: int | None = None,
        on_epoch: OnEpoch | None = None,
        evaluate_epochs: bool = True,
        start_epoch: int = 0,
        stop_epoch: int | None = None,
        optimizer_state: list[Params] | None = None,
        keep_state: bool = False,
    ) -> Curves:
        """Train the stacked networks `layers` for `recipe.epochs`; network p reads data in the
        order of `order_seeds[p]`. With `masks` (bool [P, in, out] per layer) the weights are
        masked throughout, and `hooks` may change a network's mask after any step. Returns
        per-epoch train loss, val and test accuracy (empty [P, 0] without `evaluate_epochs`,
        for trainings whose curves nobody reads), and the final parameters and masks. Training
        and evaluation run in the trainer's precision (engine/precision.py). Epochs
        `start_epoch` + 1 to `stop_epoch` alone continue a training from its `optimizer_state`
        after `start_epoch` epochs; `keep_state` returns the state at the end (`Curves.state`)."""
        population = Chunk(layers, order_seeds, masks, hooks, snapshot_epoch, evaluate_epochs, start_epoch, stop_epoch,
                           optimizer_state, keep_state)
        ((_, result),) = self.train_many([population], on_epoch)
        if isinstance(result, TaskFailure):
            raise SparsearchError(f"training failed: {result.reason}; rerun to resume (finished work is stored)")
        return result

    def evaluate(self, layers: Params, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """(mean loss, accuracy) [P] of the stacked networks on (x, y), computed on the
        trainer's device, returned on the CPU."""
        d = self.device
        return on_cpu(evaluate(self.parent, moved(layers, d), x.to(d), y.to(d), self.dtype))

    def steps(self, layers: Params, order_seed: int, steps: int) -> Params:
        """The stacked networks `layers` after `steps` optimizer steps of the recipe, all
        reading the data in the order of `order_seed`; computed on the trainer's device and
        returned there."""
        data = self.device_data
        seeds = [order_seed] * population_size(layers)
        optimizer = FlatOptimizer(moved(layers, self.device), self.recipe, self.steps_per_epoch())
        batches = batch_orders(seeds, data.x_train.shape[0], self.recipe.batch_size, self.device)
        sgd_steps(self.parent, optimizer, data, batches, steps, dtype=self.dtype,
                  augmentation=augmentation_of(self.augment, data, seeds))
        return optimizer.params

    def steps_per_epoch(self) -> int:
        return steps_per_epoch(self.data.x_train.shape[0], self.recipe.batch_size)
