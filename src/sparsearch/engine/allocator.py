"""Keep the memory a run frees for its next step, rather than handing it back to the OS each time.

A training step allocates and frees the same few megabytes (activations, gradients, batches)
thousands of times. glibc's malloc (mallopt(3)) serves blocks from 128 KiB up with `mmap`,
trims its heap's free top beyond 128 KiB, and raises both thresholds only as it sees large
blocks freed; whether a run's blocks stay or go back to the OS then depends on the order of its
first frees. When they go, every step faults its pages in again: on a 2-core AMD EPYC the
256-network study of docs/benchmarks.md took 3.5 million page faults and 9 s of system time in
two of six runs, 0.11 million (0.6 s) in every run with these settings. PyTorch's CPU tuning
guide recommends a caching allocator (jemalloc, tcmalloc) for the same reason; this sets glibc's
own knobs instead, so nothing needs preloading.

During a run the mmap threshold is glibc's dynamic maximum (32 MiB on 64-bit) and the heap is
not trimmed; afterwards the trim threshold is twice the mmap threshold (what glibc's dynamic
mode would set) and the free memory goes back to the OS (`malloc_trim`), so a notebook keeps
none of it. Only on glibc; elsewhere, or where the library is not found, nothing happens."""

from __future__ import annotations

import ctypes
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

M_TRIM_THRESHOLD = -1  # mallopt(3) parameter numbers (glibc's malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit
RUN_TRIM_THRESHOLD = 1024 * 1024 * 1024
AFTER_TRIM_THRESHOLD = 2 * MMAP_THRESHOLD


@cache
def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt, libc.malloc_trim  # noqa: B018 (both must exist)
    except (OSError, AttributeError):
        return None
    return libc


_depth = 0  # blocks nest (a run measures its trials inside its own settings): the outermost one restores


@contextmanager
def freed_memory_kept() -> Iterator[None]:
    """Within this block freed memory stays in the process for reuse; at its end it goes back."""
    global _depth
    libc = _glibc()
    if libc is None:
        yield
        return
    if _depth == 0:
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        libc.mallopt(M_TRIM_THRESHOLD, RUN_TRIM_THRESHOLD)
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            libc.mallopt(M_TRIM_THRESHOLD, AFTER_TRIM_THRESHOLD)
            libc.malloc_trim(0)
