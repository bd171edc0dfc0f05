"""Measured speed beside predicted cost: per sparsity and arm, mean test accuracy, FLOPs and
measured latency over the trials measured, and both as ratios to the dense parent's, so a
reader sees where fewer FLOPs did not mean less time (Blalock et al. 2020, "What is the State of
Neural Network Pruning?", ask for exactly this pairing)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from statistics import fmean


@dataclass(frozen=True)
class SpeedRow:
    sparsity: float
    arm: str
    measured: int  # trials with a latency
    test_acc: float
    flops: float
    latency_ms: float  # at [measure] batch_size
    latency_b1_ms: float
    kernels: str  # the fastest kernel of each trial, distinct, comma-separated
    flops_ratio: float | None  # dense FLOPs / these FLOPs (the speed-up FLOPs predict)
    speedup: float | None  # dense latency / this latency (the speed-up measured)


def speed_rows(rows: list[dict]) -> list[SpeedRow]:
    """One row per (sparsity, arm) with measured trials, in the order they first appear; the
    ratios are to the `dense` arm's means (at the same sparsity where it has one), None
    without a dense arm."""
    groups: dict[tuple[float, str], list[dict]] = defaultdict(list)
    for row in rows:
        if row.get("latency_ms") is not None:
            groups[(row["sparsity"], row["arm"])].append(row)
    dense = {sparsity: members for (sparsity, arm), members in groups.items() if arm == "dense"}
    out = []
    for (sparsity, arm), members in groups.items():
        reference = dense.get(sparsity) or next(iter(dense.values()), None)
        flops, latency = fmean(r["flops"] for r in members), fmean(r["latency_ms"] for r in members)
        out.append(SpeedRow(
            sparsity, arm, len(members), fmean(r["test_acc"] for r in members), flops, latency,
            fmean(r["latency_b1_ms"] for r in members), ", ".join(sorted({r["latency_kernel"] for r in members})),
            None if reference is None else fmean(r["flops"] for r in reference) / flops,
            None if reference is None else fmean(r["latency_ms"] for r in reference) / latency,
        ))
    return out
