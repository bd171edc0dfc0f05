"""Memory estimates checked before anything is allocated: what a user number (a width, a count,
a batch) would make the process allocate, against the machine's physical memory or the
`[engine] max_memory_gb` budget, refused in one line naming the setting and its value."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..errors import SparsearchError

if TYPE_CHECKING:
    import torch

GB = 2**30


def physical_memory() -> int:
    """Bytes of physical memory of this machine."""
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def refuse_over(need: float, setting: str, value: object, what: str, fix: str, budget: int | None = None) -> None:
    """Refuse `setting` = `value` when `what` needs more than `budget` bytes (the `[engine]
    max_memory_gb` budget), or than the machine's physical memory when no budget is given."""
    limit = physical_memory() if budget is None else budget
    if need > limit:
        over = (f"this machine's {limit / GB:.3g} GB of memory" if budget is None
                else f"engine.max_memory_gb = {budget / GB:.3g}")
        raise SparsearchError(f"{setting}: {value!r} makes {what} need about {need / GB:.3g} GB, over {over}; {fix}")


def meta_params(parent) -> list[tuple[torch.Tensor, ...]]:
    """A population of one `parent`, its shapes only (torch's `meta` device: no memory)."""
    import torch  # here, not at the top: the config schema imports this module, and reading a store needs no torch

    with torch.device("meta"):
        return [tuple(t.unsqueeze(0) for t in layer) for layer in parent.init(0)]


def training_bytes(parent, batch: int) -> int:
    """Estimated bytes one network of `parent` needs to train on `batch` examples
    (`Parent.footprint`), computed without allocating its parameters."""
    return parent.footprint(meta_params(parent), batch)[0]


def check_training(parent, config) -> None:
    """Refuse a parent one network of which does not train within `[engine] max_memory_gb` at
    `[train] batch_size` (populations are split down to one network, never below)."""
    need, budget = training_bytes(parent, config.train.batch_size), config.engine.max_memory
    if need > budget:
        raise SparsearchError(
            f"engine.max_memory_gb: {config.engine.max_memory_gb} is less than the {need / GB:.3g} GB one "
            f"{parent.kind} network of this data needs to train at train.batch_size {config.train.batch_size}; "
            f"raise engine.max_memory_gb or use a narrower parent or a smaller batch")
