"""Gradual pruning schedule of Zhu & Gupta 2017 ("To prune, or not to prune")."""

from __future__ import annotations

from ..errors import SparsearchError


def cubic_sparsity(t: float, s_i: float, s_f: float, t0: float, n: int, dt: float) -> float:
    """Sparsity at step t: s_f + (s_i - s_f) * (1 - (t - t0) / (n * dt))**3 for
    t0 <= t <= t0 + n * dt; s_i before t0 and s_f after (Zhu & Gupta 2017, eq. 1)."""
    if n <= 0 or dt <= 0:
        raise SparsearchError(f"cubic schedule needs n > 0 pruning steps and dt > 0, got n={n!r}, dt={dt!r}")
    if t < t0:
        return float(s_i)
    if t >= t0 + n * dt:
        return float(s_f)
    return float(s_f + (s_i - s_f) * (1 - (t - t0) / (n * dt)) ** 3)
