"""Parents as population modules (stacked parameters), and the registry of parent kinds."""

from __future__ import annotations

from collections.abc import Callable

from ..config import ParentConfig
from ..errors import SparsearchError
from .base import Parent, Params
from .mlp import MLP

ParentFactory = Callable[[ParentConfig, int, int], Parent]
"""Builds a parent from the `[parent]` table, the number of input features and of classes."""

PARENTS: dict[str, ParentFactory] = {"mlp": MLP.from_config}


def register_parent(kind: str, factory: ParentFactory) -> None:
    """Make `[parent] kind = KIND` build parents with `factory(parent_config, n_features, n_classes)`."""
    if not kind or not isinstance(kind, str):
        raise SparsearchError(f"register_parent: kind must be a non-empty string, got {kind!r}")
    PARENTS[kind] = factory


def build_parent(config: ParentConfig, n_features: int, n_classes: int) -> Parent:
    if config.kind not in PARENTS:
        raise SparsearchError(f"parent.kind: unknown parent kind {config.kind!r}; known: {', '.join(sorted(PARENTS))}")
    return PARENTS[config.kind](config, n_features, n_classes)


__all__ = ["PARENTS", "Params", "Parent", "build_parent", "register_parent"]
