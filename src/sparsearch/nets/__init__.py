"""Parents as population modules (stacked parameters), and the registry of parent kinds."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from pydantic import BaseModel
from torch import nn

from ..config import ParentConfig
from ..errors import SparsearchError
from .base import Parent, Params
from .cnn1d import cnn1d
from .conv_family import conv2, conv4, conv6
from .lenet5 import lenet5
from .mlp import MLP, check_settings as check_mlp_settings
from .resnet20 import ResNet20Settings, resnet20
from .module_parent import ModuleParent
from .settings import kind_settings
from .vit import ViTSettings, check_settings as check_vit_settings, vit

ParentFactory = Callable[[ParentConfig, tuple[int, ...], int], Parent]
"""Builds a parent from the `[parent]` table, one example's shape and the number of classes."""

ModuleFactory = Callable[[tuple[int, ...], int], nn.Module]
"""A user's module for one example's shape and the number of classes."""

PARENTS: dict[str, ParentFactory] = {
    "mlp": MLP.from_config, "cnn1d": cnn1d, "lenet5": lenet5, "conv2": conv2, "conv4": conv4, "conv6": conv6,
    "resnet20": resnet20, "vit": vit,
}

SETTINGS_CHECKS: dict[str, Callable] = {"mlp": check_mlp_settings, "vit": check_vit_settings}
"""Per parent kind, what its `[parent]` table alone can refuse before the data loads:
`check(config, node_sparsities)`. Every kind checks again once built at the data's shape."""

DEPTH_KINDS = {"resnet20", "vit"}
"""Parent kinds made of blocks a super-network may drop (`[supernet] depths`): their parents have
`blocks` (per stage), `with_blocks`, `keep_blocks`, `block_layers` and `kept_groups`
(supernet/depth.py)."""

KIND_SETTINGS: dict[str, type[BaseModel]] = {"resnet20": ResNet20Settings, "vit": ViTSettings}
"""Per parent kind that owns settings beyond `ParentConfig`'s fields, the pydantic model of the
other keys of its `[parent]` table (nets/settings.py); any other kind refuses such keys."""


def check_settings(config, node_sparsities: list[float]) -> None:
    """Refuse, before the data loads, what the parent kind can tell from the config alone."""
    kind_settings(config.parent, KIND_SETTINGS.get(config.parent.kind))
    check = SETTINGS_CHECKS.get(config.parent.kind)
    if check is not None:
        check(config, node_sparsities)


def with_kind_settings(config):
    """`config` with its parent kind's own settings spelled out, defaults included (what `config
    --check` prints); unset optional ones (vit's `patch`, chosen by the data) stay out."""
    settings = kind_settings(config.parent, KIND_SETTINGS.get(config.parent.kind))
    if settings is None:
        return config
    fields = config.parent.model_dump(exclude=set(config.parent.model_extra))
    parent = {**fields, **settings.model_dump(exclude_none=True)}
    return config.model_copy(update={"parent": ParentConfig.model_validate(parent)})


def register_parent(kind: str, factory: ModuleFactory, *, groups: list[list[tuple[str, int]]] | None = None) -> None:
    """Make `[parent] kind = KIND` build parents from your own module `factory(shape, n_classes)`
    (nets/module_parent.py). Its node groups are traced with Torch-Pruning unless `groups` declares
    them: per group, the (state-dict name, dim) of every tensor slice its channels own."""
    if not kind or not isinstance(kind, str):
        raise SparsearchError(f"register_parent: kind must be a non-empty string, got {kind!r}")
    if not callable(factory):
        raise SparsearchError(f"register_parent: factory must be callable (shape, n_classes) -> nn.Module, "
                              f"got {type(factory).__name__}")
    PARENTS[kind] = partial(_module_parent, kind, factory, groups)
    KIND_SETTINGS.pop(kind, None)  # a module owns no `[parent]` settings
    DEPTH_KINDS.discard(kind)  # nor blocks to drop


def _module_parent(kind, factory, groups, config: ParentConfig, shape: tuple[int, ...], n_classes: int) -> Parent:
    return ModuleParent(kind, factory, shape, n_classes, groups)


def build_parent(config: ParentConfig, shape: tuple[int, ...], n_classes: int) -> Parent:
    if config.kind not in PARENTS:
        raise SparsearchError(f"parent.kind: unknown parent kind {config.kind!r}; known: {', '.join(sorted(PARENTS))}")
    kind_settings(config, KIND_SETTINGS.get(config.kind))
    return PARENTS[config.kind](config, tuple(shape), n_classes)


def from_spec(spec: dict | list) -> Parent:
    """The parent a trial key's parent spec describes (`Parent.spec`): an MLP's widths, or a
    kind's `[parent]` settings, example shape and class count."""
    if isinstance(spec, list):  # trials stored before parent kinds existed: an MLP's widths
        spec = {"kind": "mlp", "widths": spec}
    if "widths" in spec and "input" not in spec:
        widths = spec["widths"]
        return build_parent(ParentConfig(kind=spec["kind"], hidden=widths[1:-1]), (widths[0],), widths[-1])
    return build_parent(ParentConfig(kind=spec["kind"], **spec.get("settings", {})), tuple(spec["input"]),
                        spec["classes"])


__all__ = ["DEPTH_KINDS", "PARENTS", "ModuleParent", "Params", "Parent", "build_parent", "from_spec", "check_settings",
           "register_parent", "with_kind_settings"]
