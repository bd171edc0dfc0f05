"""How one call is timed: warm-up calls, then `repeats` timed samples, their median and
interquartile range (DyNAS-T's measure: Cummings et al. 2022). A sample times an inner loop of k
calls, k doubled until one loop lasts `min_seconds`, so a call of a few microseconds is not
measured at the clock's resolution; on CUDA every loop ends with a synchronize, so a sample
counts the kernels' time, not their launch."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

MIN_SECONDS = 1e-3
MAX_INNER = 1 << 20


@dataclass(frozen=True)
class Timing:
    """Seconds per call: the median of the samples and their interquartile range."""

    median: float
    iqr: float
    samples: int


def forward(net: torch.nn.Module, x: torch.Tensor) -> Callable[[], object]:
    """The call timed for a network: one forward of `x` without autograd."""
    def call():
        with torch.no_grad():  # CSR kernels refuse inference_mode's tensors
            return net(x)
    return call


def _sync(device: str) -> Callable[[], None]:
    return torch.cuda.synchronize if device == "cuda" else (lambda: None)


def _loop(fn: Callable[[], object], k: int, sync: Callable[[], None]) -> float:
    start = time.perf_counter()
    for _ in range(k):
        fn()
    sync()
    return time.perf_counter() - start


def time_call(fn: Callable[[], object], warmup: int, repeats: int, device: str = "cpu",
              min_seconds: float = MIN_SECONDS) -> Timing:
    """`fn`'s seconds per call after `warmup` calls: `repeats` samples of k calls each (k the
    first power of two whose loop lasts `min_seconds`), as median and interquartile range."""
    sync = _sync(device)
    for _ in range(warmup):
        fn()
    sync()
    k = 1
    while _loop(fn, k, sync) < min_seconds and k < MAX_INNER:
        k *= 2
    samples = [_loop(fn, k, sync) / k for _ in range(repeats)]
    if len(samples) < 2:
        return Timing(samples[0], 0.0, 1)
    quartiles = statistics.quantiles(samples, n=4)
    return Timing(statistics.median(samples), quartiles[2] - quartiles[0], len(samples))
