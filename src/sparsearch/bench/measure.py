"""What the benchmark measures besides wall time: the machine's fp32 and bf16 matmul peaks, the FLOPs a
method executes, and the process's peak resident memory while a method runs."""

from __future__ import annotations

import os
import threading
import time

import torch

PAGE = os.sysconf("SC_PAGE_SIZE")


def synchronize(device: str) -> None:
    """Wait for the work queued on `device` (CUDA runs kernels asynchronously), so a timing ends
    when the work does."""
    if device == "cuda":
        torch.cuda.synchronize()


def matmul_peak_gflops(n: int = 2048, repeats: int = 10, dtype: torch.dtype = torch.float32,
                       device: str = "cpu") -> float:
    """GFLOP/s of a large `torch.mm` in `dtype` on `device` (2 n^3 FLOPs each), best of three timings."""
    a, b = torch.randn(n, n).to(device, dtype), torch.randn(n, n).to(device, dtype)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(3):
        synchronize(device)
        start = time.perf_counter()
        for _ in range(repeats):
            torch.mm(a, b)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 * repeats / best / 1e9


def training_flops(forward_flops: float, n_train: int, n_eval: int) -> float:
    """FLOPs of one epoch of one network whose forward pass costs `forward_flops` per example
    (`Parent.cost(mask).flops`: 2 per multiply-add of its weights, at every output position of a
    convolution): forward + backward (3x the forward) on the training set and a forward pass on
    the evaluation sets."""
    return forward_flops * (3 * n_train + n_eval)


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


class PeakRSS:
    """Context manager sampling the process's resident set size every millisecond; `.peak` is
    the highest value seen (bytes)."""

    def __enter__(self):
        self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())
        return False
