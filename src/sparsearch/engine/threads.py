"""How many torch intra-op threads a run uses when `[engine] threads = "auto"`: the cores this
process may run on, less those other work keeps busy, at least one. Two threads on a 2-core
machine busy with other work are slower than one (issue 29: the default study took 40.8 s with
2 threads and 11.4 s with 1 at load 3.6, the same export).

"Busy" is measured, on Linux, as the CPU time all processes but this one used on the CPUs this
one may run on (/proc/stat, less this process's own) over a recent window: from when this module
was imported (a command's start; a `sparsearch run` spends its first second importing torch) or
the last measurement, if that was 0.25-10 s ago, else over a fresh 0.25 s; choices within 0.25 s
of a measurement share it. The 1-minute load average, which lags by a minute, counted a run's own
previous run as other work: back-to-back runs on a quiet 2-core machine took one thread. Where
/proc/stat is missing (macOS), the load average is what there is."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

MAX_THREADS = 1024
"""Most threads a setting may ask for: more than any machine's cores, fewer than would exhaust
memory with thread stacks."""

WINDOW = (0.25, 10.0)
"""Shortest and longest window (seconds) over which other work's CPU time is measured."""

STAT = Path("/proc/stat")


@dataclass(frozen=True)
class ThreadChoice:
    count: int
    reason: str  # why this many, for the run's header


@dataclass(frozen=True)
class CpuSample:
    """A moment's CPU counters: wall clock, CPU seconds every CPU spent busy since boot, and
    CPU seconds this process has used (all its threads)."""

    at: float
    busy: float
    own: float


def auto_threads(cores: int, busy: float) -> int:
    """`cores` less the cores other work keeps `busy` (rounded half up), at least 1."""
    return max(1, cores - int(busy + 0.5))


def affinity() -> set[int] | None:
    """The CPUs this process may run on, or None where that is unknown (macOS)."""
    try:
        return os.sched_getaffinity(0)
    except AttributeError:
        return None


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity; all CPUs where affinity is unknown)."""
    cpus = affinity()
    return len(cpus) if cpus is not None else os.cpu_count() or 1


def cpu_sample(stat: Path = STAT, cpus: set[int] | None = None) -> CpuSample | None:
    """Now's counters from `stat` (the kernel's /proc/stat: a `cpuN` line per CPU, and a first
    `cpu` line summing them, each of user, nice, system, idle, iowait, irq, softirq and steal
    ticks; busy is all but idle and iowait) over the CPUs `cpus` (by default those this process
    may run on, so that a job pinned to some cores of a shared node does not count the work on
    the others; every CPU where the affinity is unknown), or None where it cannot be read."""
    cpus = affinity() if cpus is None else cpus
    try:
        rows = {line.split()[0]: line.split()[1:9] for line in stat.read_text().splitlines() if line.startswith("cpu")}
        ticks = 0
        for name in [f"cpu{c}" for c in sorted(cpus or ()) if f"cpu{c}" in rows] or ["cpu"]:
            user, nice, system, idle, iowait, irq, softirq, steal = (int(f) for f in rows[name])
            ticks += user + nice + system + irq + softirq + steal
    except (OSError, ValueError, KeyError):
        return None
    times = os.times()
    return CpuSample(time.monotonic(), ticks / os.sysconf("SC_CLK_TCK"), times.user + times.system)


def busy_cores(before: CpuSample, after: CpuSample) -> float:
    """Cores other processes kept busy between two samples: the busy CPU time of the sampled
    CPUs less this process's own, over the wall time between them."""
    return max(0.0, (after.busy - before.busy - (after.own - before.own)) / (after.at - before.at))


_last = cpu_sample()
"""The window's start: this module's import, then each measurement's end."""
_measured: tuple[float, str] | None = None
"""The last measurement, which choices made within WINDOW[0] of it share."""


def other_work() -> tuple[float, str] | None:
    """(cores other work keeps busy now, how that was measured), or None without /proc/stat."""
    global _last, _measured
    now = cpu_sample()
    if now is None or _last is None:
        return None
    if now.at - _last.at < WINDOW[0] and _measured is not None:
        return _measured  # choices in quick succession (a notebook's loop of runs) share one measurement
    if not WINDOW[0] <= now.at - _last.at <= WINDOW[1]:
        _last = now
        time.sleep(WINDOW[0])
        now = cpu_sample()
        if now is None:
            return None
    before, _last = _last, now
    _measured = busy_cores(before, now), f"{now.at - before.at:.1f} s"
    return _measured


def choose_threads(setting: int | str) -> ThreadChoice:
    """The thread count of `[engine] threads`: as set, or chosen now when "auto"."""
    if setting != "auto":
        return ThreadChoice(int(setting), "engine.threads")
    cores, measured = available_cores(), other_work()
    if measured is None:
        load = os.getloadavg()[0]
        return ThreadChoice(auto_threads(cores, load), f"auto: {cores} cores available, load average {load:.2f}")
    busy, window = measured
    return ThreadChoice(auto_threads(cores, busy),
                        f"auto: {cores} cores available, {busy:.2f} busy with other work over {window}")
