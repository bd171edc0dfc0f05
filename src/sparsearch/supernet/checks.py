"""What a super-network's elastic space must satisfy, checked before the store is touched
(light: no torch, so `validate` can run it for an MLP before any data loads)."""

from __future__ import annotations

from ..errors import SparsearchError


def group_names(parent) -> list[str] | None:
    """How refusals name the parent's node groups (None: an MLP's hidden layers)."""
    return None if parent.kind == "mlp" else [f"{parent.kind}'s node group {g}"
                                               for g in range(1, len(parent.widths) - 1)]


def check_space(config, space, names: list[str] | None) -> None:
    """Node groups to make elastic, widths that keep a unit of every one (`names`, see
    `group_names`) and no more evaluations per search than the elastic space has distinct
    configurations."""
    from ..moo.evaluations import space_size

    if not space.hidden:
        raise SparsearchError(f"parent.kind: a super-network needs node groups to make elastic, and "
                              f"{config.parent.kind!r} has none at this data's shape; use a parent with hidden "
                              f"layers or channels")
    space.check(names)
    search = config.supernet
    size = space_size(space.choices)
    if search.evaluations > size:
        allowed = f"use 2..{size}" if size >= 2 else "list at least two supernet.widths"
        groups = (f"{len(space.hidden)} parent.hidden layer(s)" if names is None
                  else f"{len(space.hidden)} node groups" + (f", {len(search.depths)} supernet.depths over "
                                                            f"{space.stages} stages" if space.stages else ""))
        raise SparsearchError(
            f"supernet.evaluations: {search.evaluations} is more than the {size} distinct configurations of the "
            f"elastic space ({len(search.widths)} supernet.widths, {groups}); {allowed}"
        )
