"""Executors decide where population chunks train, never what they compute.

A `Chunk` is a slice of a population (engine/chunking.py sizes it); an executor trains chunks
and yields each one's `Curves` as it finishes, in any order. `InProcess` trains them one after
another in this process; `RayExecutor` (engine/ray_executor.py) ships them to a Ray cluster as
tasks. Each network's arithmetic is independent of its neighbours and every chunk runs with the
same thread count and deterministic algorithms, so the numbers are the same wherever it ran
(on the same kind of device: engine/device.py, docs/devices.md).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from ..config import TrainConfig
from ..data import Dataset
from ..nets.base import Params, Parent, rows as network_rows
from .allocator import freed_memory_kept
from .device import prepare
from .masking import StepHook
from .precision import Precision


@dataclass(frozen=True)
class Chunk:
    """Networks to train together: stacked `layers`, the data order of each, optional weight
    masks (bool, shaped like each layer's stacked weight) and step hooks, the epoch after which to snapshot the
    weights, and whether to evaluate every epoch. A chunk may train part of the recipe: epochs
    `start_epoch` + 1 to `stop_epoch` (the recipe's last if None), continuing from the
    optimizer's `optimizer_state` after `start_epoch` epochs, and return its state at the end
    (`keep_state`) and each network's weights at its best validation epoch (`keep_best`). With
    `test_once` test accuracy is not evaluated every epoch, only once at the end for each
    network's best-validation weights and its final weights (what a trial's metrics need)."""

    layers: Params
    order_seeds: list[int]
    masks: list[Tensor] | None = None
    hooks: list[StepHook | None] | None = None
    snapshot_epoch: int | None = None
    evaluate_epochs: bool = True
    start_epoch: int = 0
    stop_epoch: int | None = None
    optimizer_state: list[Params] | None = None
    keep_state: bool = False
    keep_best: bool = False
    test_once: bool = False

    @property
    def size(self) -> int:
        return len(self.order_seeds)

    def part(self, rows: slice) -> "Chunk":
        return Chunk(
            network_rows(self.layers, rows), self.order_seeds[rows],
            None if self.masks is None else [m[rows] for m in self.masks],
            None if self.hooks is None else self.hooks[rows], self.snapshot_epoch, self.evaluate_epochs,
            self.start_epoch, self.stop_epoch,
            None if self.optimizer_state is None else [network_rows(s, rows) for s in self.optimizer_state],
            self.keep_state, self.keep_best, self.test_once,
        )


@dataclass(frozen=True)
class Setting:
    """What every chunk of a trainer shares: the parent kind, the data, the recipe, the precision,
    the device the chunk computes on (the data is moved there by the chunk if not already) and
    the augmentation of its training batches (engine/augment.py)."""

    parent: Parent
    data: Dataset
    recipe: TrainConfig
    precision: Precision
    device: str = "cpu"
    augment: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskFailure:
    """A chunk that could not be trained (its worker died more often than retries allow)."""

    reason: str


OnEpoch = Callable[[int], None]
"""Progress callback: called with a number of networks that finished one more epoch."""


TrainChunk = Callable[[Setting, Chunk, "OnEpoch | None"], object]
"""The unit of work (engine/trainer.py `train_chunk`): trains one chunk, returns its `Curves`."""


class Executor(Protocol):
    """Where chunks train."""

    def run(self, train: TrainChunk, setting: Setting, chunks: Iterable[Chunk], on_epoch: OnEpoch | None = None
            ) -> Iterator[tuple[int, object]]:
        """`train` every chunk; yield (index in `chunks`, `Curves` or `TaskFailure`) as each finishes."""
        ...


def set_deterministic(mode: bool, warn_only: bool) -> None:
    """`torch.use_deterministic_algorithms(mode, warn_only=...)` without importing the compiler
    stack: the public function imports `torch._inductor.config` (0.6-0.9 s here) to set the
    inductor's copy of the flag, which only `torch.compile` reads and the engine never uses. The
    flag itself is torch._C's; once the inductor is loaded (or where torch lacks the setter) the
    public function sets both."""
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None or "torch._inductor.config" in sys.modules:
        torch.use_deterministic_algorithms(mode, warn_only=warn_only)
    else:
        setter(mode, warn_only=warn_only)


@contextmanager
def torch_settings(threads: int, device: str = "cpu") -> Iterator[None]:
    """Run with `threads` intra-op threads and deterministic algorithms, keeping freed memory for
    reuse (engine/allocator.py); restore all three afterwards.
    On CUDA an operation without a deterministic kernel warns instead of failing the run, fp32
    convolutions stay fp32 (cuDNN's default is TF32), and cuBLAS gets its deterministic
    workspace (engine/device.py `prepare`; docs/devices.md)."""
    previous = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled())
    conv = getattr(torch.backends.cudnn, "conv", None)  # torch >= 2.9's TF32 switch (never mix with allow_tf32)
    tf32 = getattr(conv, "fp32_precision", None) if device == "cuda" else None
    prepare(device)
    torch.set_num_threads(threads)
    set_deterministic(True, warn_only=device == "cuda")
    if tf32 is not None:
        conv.fp32_precision = "ieee"
    try:
        with freed_memory_kept():
            yield
    finally:
        torch.set_num_threads(previous[0])
        set_deterministic(previous[1], warn_only=previous[2])
        if tf32 is not None:
            conv.fp32_precision = tf32


class InProcess:
    """Chunks train here, one after another, lazily (one chunk's memory at a time)."""

    def run(self, train: TrainChunk, setting: Setting, chunks: Iterable[Chunk], on_epoch: OnEpoch | None = None
            ) -> Iterator[tuple[int, object]]:
        for index, chunk in enumerate(chunks):
            yield index, train(setting, chunk, on_epoch)


IN_PROCESS = InProcess()
