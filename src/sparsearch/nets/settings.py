"""A parent kind's own settings: the keys of the `[parent]` table beyond `ParentConfig`'s fields
(config.py keeps them as its extras), validated by the kind's pydantic model before the data loads."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from ..config import ParentConfig, validated
from ..errors import SparsearchError

Settings = TypeVar("Settings", bound=BaseModel)


def kind_settings(config: ParentConfig, model: type[Settings] | None) -> Settings | None:
    """The `[parent]` table's extra keys validated as `model`, the kind's own settings (None: the
    kind owns none, and any extra key is refused); every refusal is one line naming `parent.KEY`."""
    extra = dict(config.model_extra or {})
    own = tuple(model.model_fields) if model is not None else ()
    unknown = sorted(set(extra) - set(own))
    if unknown:
        takes = (f"its own settings are {', '.join(own)}" if own
                 else "check the spelling against `sparsearch config --default`")
        raise SparsearchError(f"parent.{unknown[0]}: unknown key for parent kind {config.kind!r}; {takes}")
    return None if model is None else validated(model, extra, within="parent")
