"""How many networks to train at once: populations are split into equal chunks, trained one
after another, so that (1) on a CPU, the widest activation of a training step, P x batch x width
floats, stays cache-sized (larger ones make ReLU, bias and optimizer passes memory-bound: on this
project's 2-core Intel Xeon 48-64 digits parents train ~25% faster per network than 256) and a
chunk holds at most CPU_MOST networks (the batched GEMMs of narrower networks slow down beyond
it: on a 2-core AMD EPYC, at the compacted shapes of node sparsity 0.5, 141-149 GFLOP/s in 32-64
networks, 119-134 in 128, 91-106 in 256; docs/benchmarks.md); a GPU has no such cache to fit,
and one network per chunk would leave it idle; and (2) the estimated working set stays under the
memory budget. Results do not depend on the split: each network's arithmetic is independent of
its neighbours (tests/test_engine.py)."""

from __future__ import annotations

import math

ACTIVATION_BYTES = 5 * 2**20
CPU_MOST = 64
DEFAULT_MAX_MEMORY = 4 * 2**30
FLOAT = 4


def network_bytes(widths: tuple[int, ...], batch: int) -> int:
    """Estimated bytes one network needs while training: parameters with their gradients and
    two optimizer buffers, and the forward and backward activations of a batch."""
    params = sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))
    return FLOAT * (4 * params + 3 * batch * sum(widths[1:]))


def mlp_footprint(widths: tuple[int, ...], batch: int) -> tuple[int, int]:
    """An MLP's `Parent.footprint`: (training bytes of one network, its widest layer)."""
    return network_bytes(widths, batch), max(widths[1:])


def chunk_slices(
    total: int, footprint: tuple[int, int], batch: int, max_memory: int = DEFAULT_MAX_MEMORY, most: int | None = None,
    device: str = "cpu",
) -> list[slice]:
    """Equal consecutive slices of `total` networks honouring the memory limit, on the CPU the
    cache limit too (and at most `most` networks each); `footprint` is (training bytes of one
    network, floats of its widest activation per example), a parent's `footprint`."""
    one_network, widest = footprint
    cache_cap = min(ACTIVATION_BYTES // (FLOAT * batch * widest), CPU_MOST) if device == "cpu" else total
    memory_cap = max_memory // one_network
    cap = max(1, min(cache_cap, memory_cap, most or total))
    size = math.ceil(total / math.ceil(total / cap))
    return [slice(start, min(start + size, total)) for start in range(0, total, size)]
