"""Experiment kinds: what `[experiment] kind` selects. Each kind validates a config before any
data or store is touched, runs (or continues) an experiment in a store, and writes its report;
the API, the CLI and the report branch on the kind here and nowhere else."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .config import Config
from .errors import SparsearchError
from .mask_study import run_mask_study, validate
from .report import write_mask_report
from .report.elastic import write_elastic_report
from .supernet.run import run_supernet


@dataclass(frozen=True)
class Kind:
    name: str
    validate: Callable[[Config], object]
    run: Callable  # (config, data, store, progress, executor) -> MaskRun | SupernetRun
    report: Callable[..., Path]  # (store, experiment, config, out_dir) -> index.html


def _validate_supernet(config: Config) -> None:
    if config.parent.kind != "mlp":
        raise SparsearchError(f"parent.kind: the supernet kind works with 'mlp' parents only, got {config.parent.kind!r}")


KINDS = {
    "mask": Kind("mask", validate, run_mask_study, write_mask_report),
    "supernet": Kind("supernet", _validate_supernet, run_supernet, write_elastic_report),
}
