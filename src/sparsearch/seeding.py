"""Stable, named seeds: every random stream in a run is derived from the replicate seed.

The parent of replicate `seed` is initialised with `seed` itself (so it equals an
`nn.Linear` stack built after `torch.manual_seed(seed)`); every other stream (data order,
mask sampling, probe batch) gets its own seed from a hash of its name and the replicate seed,
so adding an arm never shifts another arm's randomness.
"""

from __future__ import annotations

import hashlib

import torch


def stable_seed(*parts: object) -> int:
    """A 63-bit seed from the repr of `parts`, identical across processes and platforms."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def generator(*parts: object) -> torch.Generator:
    """A CPU generator seeded with `stable_seed(*parts)`."""
    return torch.Generator().manual_seed(stable_seed(*parts))
