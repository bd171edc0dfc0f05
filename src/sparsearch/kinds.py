"""Experiment kinds: what `[experiment] kind` selects. Each kind validates a config before any
data or store is touched, runs (or continues) an experiment in a store, and writes its report;
the API, the CLI and the report branch on the kind here and nowhere else."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .config import Config
from .errors import SparsearchError


@dataclass(frozen=True)
class Kind:
    name: str
    validate: Callable[[Config], object]
    run: Callable  # (config, data, store, progress) -> MaskRun | SupernetRun
    report: Callable[..., Path]  # (store, experiment, config, out_dir) -> index.html


def _validate_mask(config: Config):
    from .mask_study import validate

    return validate(config)


def _run_mask(*args):
    from .mask_study import run_mask_study

    return run_mask_study(*args)


def _report_mask(*args):
    from .report import write_mask_report

    return write_mask_report(*args)


def _validate_supernet(config: Config) -> None:
    if config.parent.kind != "mlp":
        raise SparsearchError(f"parent.kind: the supernet kind works with 'mlp' parents only, got {config.parent.kind!r}")


def _run_supernet(*args):
    from .supernet.run import run_supernet

    return run_supernet(*args)


def _report_supernet(*args):
    from .report.elastic import write_elastic_report

    return write_elastic_report(*args)


KINDS = {
    "mask": Kind("mask", _validate_mask, _run_mask, _report_mask),
    "supernet": Kind("supernet", _validate_supernet, _run_supernet, _report_supernet),
}
