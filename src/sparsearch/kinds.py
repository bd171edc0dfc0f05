"""Experiment kinds: what `[experiment] kind` selects. Each kind validates a config before any
data or store is touched, runs (or continues) an experiment in a store, and writes its report;
the API, the CLI and the report branch on the kind here and nowhere else."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .config import Config
from .errors import SparsearchError
from .mask_study import check_data, run_mask_study, validate
from .moo.evaluations import space_size
from .report import write_mask_report
from .report.elastic import write_elastic_report
from .spaces.elastic import ElasticSpace
from .supernet.run import check_data as check_supernet_data, run_supernet


@dataclass(frozen=True)
class Kind:
    name: str
    validate: Callable[[Config], object]
    run: Callable  # (config, data, store, progress, executor) -> MaskRun | SupernetRun
    report: Callable[..., Path]  # (store, experiment, config, out_dir) -> index.html
    check_data: Callable  # (config, data): what needs the data, checked before the store


def _validate_supernet(config: Config) -> None:
    """What a super-network search needs beyond each key's own range, checked before data or store
    are touched: an MLP parent, widths that keep a unit of every layer, and no more evaluations
    per search than the elastic space has distinct configurations (each is evaluated at most once)."""
    if config.parent.kind != "mlp":
        raise SparsearchError(f"parent.kind: the supernet kind works with 'mlp' parents only, got {config.parent.kind!r}")
    search = config.supernet
    space = ElasticSpace(tuple(config.parent.hidden), tuple(search.widths))
    space.check()
    size = space_size(space.choices)
    if search.evaluations > size:
        allowed = f"use 2..{size}" if size >= 2 else "list at least two supernet.widths"
        raise SparsearchError(
            f"supernet.evaluations: {search.evaluations} is more than the {size} distinct configurations of the "
            f"elastic space ({len(search.widths)} supernet.widths, {len(config.parent.hidden)} parent.hidden "
            f"layer(s)); {allowed}"
        )


KINDS = {
    "mask": Kind("mask", validate, run_mask_study, write_mask_report, check_data),
    "supernet": Kind("supernet", _validate_supernet, run_supernet, write_elastic_report, check_supernet_data),
}
