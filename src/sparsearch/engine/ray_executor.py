"""Population chunks as Ray tasks (https://docs.ray.io): the same work as in-process, on a cluster.

A task is a whole chunk of a population (seconds of work or more), never a trial, so Ray's
per-task overhead stays small beside it. The parent and the data go into the object store
once per run and every task reads them from there. Tasks return their `Curves` to the driver,
which alone writes the store. A task whose worker dies is retried by Ray up to `retries`
times; past that the chunk is reported as a `TaskFailure`, never dropped. A task's own
exception (a bug, a user error) is raised on the driver as it is.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterable, Iterator

from ..errors import SparsearchError
from ..extras import install_hint
from .executor import Chunk, OnEpoch, Setting, TaskFailure, TrainChunk, torch_settings

LOCAL_INSTANCE = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # servers listen on 127.0.0.1 only: nothing else should join
    "RAY_worker_niceness": "0",  # workers train at the driver's priority, as in-process (Ray's default: nice 15)
}
"""Environment for a local Ray instance (no address), set unless already set, before Ray is
imported and its processes start."""

FAULT_PAUSE_IN_TASK = "SPARSEARCH_FAULT_PAUSE_IN_TASK"
"""Test-only fault injection: with this variable set to a path in a worker's environment, the
first task to start writes its process id to that path and waits there until it is killed
(or, as a guard against a leaked process, an hour has passed); later tasks run normally."""


def ray_module(local: bool = False):
    """The `ray` package, or a one-line error saying how to install it; `local`: a local
    instance will be started, with `LOCAL_INSTANCE`'s environment."""
    if local:
        for name, value in LOCAL_INSTANCE.items():
            os.environ.setdefault(name, value)
    try:
        import ray
    except ImportError:
        raise SparsearchError(f"executor 'ray' needs Ray, which is not installed: {install_hint('ray')}") from None
    return ray


ANSWER_TIMEOUT = 10.0
"""Seconds to wait for a cluster's head to accept a connection before saying it does not."""


def check_reachable(address: str | None) -> None:
    """Refuse, in one line and at once, a HOST:PORT (or ray://HOST:PORT) where nothing accepts a
    connection: `ray.init` itself retries such an address for minutes. None and "auto" (the
    cluster this machine belongs to) are left to Ray."""
    if address is None or address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=ANSWER_TIMEOUT).close()
    except OSError as error:
        reason = "no answer" if isinstance(error, socket.timeout) else (error.strerror or str(error))
        raise SparsearchError(f"no Ray cluster answers at {address!r} ({reason}); start one there "
                              f"(ray start --head) or fix engine.address / --address") from None


def _pause_if_asked() -> None:
    marker = os.environ.get(FAULT_PAUSE_IN_TASK)
    if not marker:
        return
    draft = f"{marker}.{os.getpid()}"
    with open(draft, "w") as handle:
        handle.write(str(os.getpid()))
    try:
        os.link(draft, marker)  # atomic: only the first task gets to create the marker
    except FileExistsError:
        return
    finally:
        os.unlink(draft)
    time.sleep(3600)


def _task(train: TrainChunk, threads: int, parent, data, recipe, precision, device, augment, chunk: Chunk):
    """One chunk on a worker, with the driver's thread count, deterministic algorithms and
    device (on CUDA, the GPU Ray gave the task: Ray sets its CUDA_VISIBLE_DEVICES)."""
    _pause_if_asked()
    with torch_settings(threads, device):
        return train(Setting(parent, data, recipe, precision, device, augment), chunk, None)


class RayExecutor:
    """Chunks run as Ray tasks of `threads` CPUs and `gpus` GPUs each, on the cluster at
    `address` (a local Ray instance if None). With device "cuda" a task asks for one whole GPU
    (`gpus = 1`): a chunk is sized to the memory budget `max_memory_gb`, not to a share of a GPU,
    so two chunks on one GPU could together exceed it. Use as a context manager: it connects on
    entry and, if it started Ray, shuts it down on exit."""

    def __init__(self, address: str | None = None, threads: int = 2, retries: int = 3, gpus: float = 0):
        self.address, self.threads, self.retries, self.gpus = address, threads, retries, gpus
        self.ray = None
        self._started = False
        self._shared: dict[int, tuple[object, object]] = {}

    def __enter__(self) -> "RayExecutor":
        ray = self.ray = ray_module(local=self.address is None)
        if not ray.is_initialized():
            try:
                ray.init(address=self.address, include_dashboard=False, logging_level=logging.ERROR,
                         log_to_driver=False)
            except ConnectionError as error:
                raise SparsearchError(f"cannot reach the Ray cluster at {self.address!r}: {error}; check --address") from None
            self._started = True
        self._remote = ray.remote(_task).options(num_cpus=self.threads, num_gpus=self.gpus,
                                                  max_retries=self.retries)
        return self

    def __exit__(self, *exc) -> None:
        self._shared.clear()
        if self._started:
            self.ray.shutdown()
            self._started = False

    def _put(self, value):
        """`value` in the object store, put there once however many tasks read it."""
        if id(value) not in self._shared:
            self._shared[id(value)] = (value, self.ray.put(value))  # holding value keeps its id unique
        return self._shared[id(value)][1]

    def _window(self) -> int:
        """How many tasks to keep submitted: twice what the cluster can run at once."""
        resources = self.ray.cluster_resources()
        at_once = int(resources.get("CPU", self.threads) // self.threads)
        if self.gpus:
            at_once = min(at_once, int(resources.get("GPU", 0) // self.gpus))
        return max(2, 2 * at_once)

    def run(self, train: TrainChunk, setting: Setting, chunks: Iterable[Chunk], on_epoch: OnEpoch | None = None
            ) -> Iterator[tuple[int, object]]:
        ray = self.ray
        parent, data = self._put(setting.parent), self._put(setting.data)
        todo = enumerate(chunks)
        pending: dict = {}
        window = self._window()
        while True:
            for index, chunk in todo:
                ref = self._remote.remote(train, self.threads, parent, data, setting.recipe, setting.precision,
                                          setting.device, setting.augment, chunk)
                pending[ref] = (index, chunk.size)
                if len(pending) >= window:
                    break
            if not pending:
                return
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            index, size = pending.pop(ref)
            result = self._result(ref)
            if on_epoch is not None and not isinstance(result, TaskFailure):
                on_epoch(size * setting.recipe.epochs)
            yield index, result

    def _result(self, ref):
        exceptions = self.ray.exceptions
        try:
            return self.ray.get(ref)
        except exceptions.RayTaskError as error:  # the task itself raised: not a fault to retry
            cause = getattr(error, "cause", None)
            raise (cause if isinstance(cause, Exception) else error) from None
        except exceptions.RayError as error:  # the worker, its node or the object was lost
            first = (str(error).strip().splitlines() or [""])[0]
            return TaskFailure(f"{type(error).__name__} after {self.retries} retries: {first}")
