"""Pareto dominance and the hypervolume indicator (all objectives MINIMIZED).

Hypervolume (the "S-metric", Zitzler & Thiele 1998/1999) is the measure of the objective
space dominated by a set and bounded by a reference point. Two objectives are computed
exactly by our own sweep; three or more by pymoo's `HV` (Blank & Deb 2020, exact, via moocore).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import SparsearchError


def _as_points(points: np.ndarray, name: str = "points") -> np.ndarray:
    p = np.asarray(points, dtype=float)
    if p.ndim == 1 and p.size == 0:
        return p.reshape(0, 1)
    if p.ndim != 2:
        raise SparsearchError(f"{name} must be a 2-D array [n, objectives], got shape {p.shape}")
    return p


def non_dominated(points: np.ndarray) -> np.ndarray:
    """Boolean mask of the Pareto-optimal rows of `points` [n, M] under minimization.

    Row a dominates row b if a <= b in every objective and a < b in at least one.
    Duplicates: equal points do not dominate each other, so every copy of an optimal point
    is kept (mask True for all of them). Rows containing NaN are never optimal and dominate
    nothing.
    """
    p = _as_points(points)
    n, m = p.shape
    valid = ~np.isnan(p).any(axis=1)
    mask = valid.copy()
    q = p[valid]
    if len(q) == 0:
        return mask
    dominated = np.zeros(len(q), dtype=bool)
    chunk = max(1, 4_000_000 // max(1, len(q) * m))
    for start in range(0, len(q), chunk):
        rows = q[start : start + chunk, None, :]  # [c, 1, M]
        le = np.all(q[None, :, :] <= rows, axis=2)  # [c, n]: q[j] <= rows[i] everywhere
        lt = np.any(q[None, :, :] < rows, axis=2)
        dominated[start : start + chunk] = np.any(le & lt, axis=1)
    mask[np.flatnonzero(valid)] = ~dominated
    return mask


def _hv2(p: np.ndarray, ref: np.ndarray) -> float:
    """Exact 2-D hypervolume by a sweep over the first objective (O(n log n))."""
    order = np.lexsort((p[:, 1], p[:, 0]))  # by f1, then f2
    area, best_f2 = 0.0, float(ref[1])
    for f1, f2 in p[order]:
        if f2 < best_f2:  # the point adds the strip [f1, ref1] x [f2, best_f2)
            area += (float(ref[0]) - f1) * (best_f2 - f2)
            best_f2 = float(f2)
    return area


def hypervolume(points: np.ndarray, reference: np.ndarray) -> float:
    """Hypervolume dominated by `points` [n, M] and bounded by `reference` [M] (minimization).

    Points that do not strictly dominate the reference (any coordinate >= it, or NaN)
    contribute nothing. Exact: own sweep for M <= 2, `pymoo.indicators.hv.HV` for M >= 3.
    """
    p = _as_points(points)
    ref = np.asarray(reference, dtype=float).reshape(-1)
    if len(p) == 0:
        return 0.0
    if p.shape[1] != ref.size:
        raise SparsearchError(
            f"reference has {ref.size} objectives but points have {p.shape[1]}; pass one value per objective"
        )
    if not np.all(np.isfinite(ref)):
        raise SparsearchError("reference point must be finite")
    p = p[np.all(p < ref, axis=1)]
    if len(p) == 0:
        return 0.0
    if ref.size == 1:
        return float(ref[0] - p[:, 0].min())
    if ref.size == 2:
        return float(_hv2(p, ref))
    from pymoo.indicators.hv import HV

    return float(HV(ref_point=ref)(p[non_dominated(p)]))


def hypervolume_curve(
    objectives_in_evaluation_order: np.ndarray, reference: np.ndarray, at: Sequence[int]
) -> list[float]:
    """Hypervolume of the first n evaluations, for each n in `at` (0 <= n <= evaluations)."""
    p = _as_points(objectives_in_evaluation_order, "objectives")
    out = []
    for n in at:
        n = int(n)
        if n < 0 or n > len(p):
            raise SparsearchError(f"hypervolume_curve: n={n} is outside 0..{len(p)} evaluations")
        out.append(hypervolume(p[:n], reference) if n else 0.0)
    return out
