"""How many torch intra-op threads a run uses when `[engine] threads = "auto"`: the cores this
process may run on, less those its load average says other work keeps busy, at least one. Two
threads on a 2-core machine busy with other work are slower than one (issue 29: the default
study took 40.8 s with 2 threads and 11.4 s with 1 at load 3.6, the same export)."""

from __future__ import annotations

import os
from dataclasses import dataclass

MAX_THREADS = 1024
"""Most threads a setting may ask for: more than any machine's cores, fewer than would exhaust
memory with thread stacks."""


@dataclass(frozen=True)
class ThreadChoice:
    count: int
    reason: str  # why this many, for the run's header


def auto_threads(cores: int, load: float) -> int:
    """`cores` less the cores a 1-minute `load` average keeps busy (rounded half up), at least 1."""
    return max(1, cores - int(load + 0.5))


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity; all CPUs where affinity is unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS has no affinity
        return os.cpu_count() or 1


def choose_threads(setting: int | str) -> ThreadChoice:
    """The thread count of `[engine] threads`: as set, or chosen now when "auto"."""
    if setting != "auto":
        return ThreadChoice(int(setting), "engine.threads")
    cores, load = available_cores(), os.getloadavg()[0]
    return ThreadChoice(auto_threads(cores, load), f"auto: {cores} cores available, load average {load:.2f}")
