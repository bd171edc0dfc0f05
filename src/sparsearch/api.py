"""`sparsearch.run`: run (or continue) an experiment from a notebook and get its `Study` back."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from .config import Config, config_from_dict, load_config
from .data import Dataset, load_dataset
from .engine.precision import SlowPrecisionWarning, slow_bf16_note
from .errors import SparsearchError
from .kinds import KINDS
from .progress import Progress
from .store import Store
from .study import Study


def as_config(config: Config | dict | str | Path) -> Config:
    """A validated Config from a Config, a dict shaped like the TOML, or the path of a TOML file."""
    if isinstance(config, Config):
        return config
    if isinstance(config, dict):
        return config_from_dict(config)
    if isinstance(config, (str, Path)):
        return load_config(config)
    raise SparsearchError(f"config must be a Config, a dict or a TOML path, got {type(config).__name__}")


@contextmanager
def torch_settings(threads: int) -> Iterator[None]:
    """Run with `threads` intra-op threads and deterministic algorithms; restore both afterwards."""
    previous = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(previous[0])
        torch.use_deterministic_algorithms(previous[1])


def run(
    config: Config | dict | str | Path = None,
    *,
    store: Store | str | Path = "sparsearch.db",
    data: Dataset | None = None,
    progress: Progress | None = None,
) -> Study:
    """Run (or continue) the experiment `config` (the built-in default if None) in `store`, on
    `data` if given (else the dataset the config names), and return its Study. Only trials the
    store lacks are trained. Everything that can be validated is, before the store is touched."""
    config = Config() if config is None else as_config(config)
    kind = KINDS[config.experiment.kind]
    kind.validate(config)
    note = slow_bf16_note(config.engine.precision)
    if note is not None:
        warnings.warn(note, SlowPrecisionWarning, stacklevel=2)
    if data is not None:
        if not isinstance(data, Dataset):
            raise SparsearchError(f"data must be a sparsearch.Dataset (see Dataset.from_arrays), got {type(data).__name__}")
        config = config.model_copy(update={"data": config.data.model_copy(update={"name": data.name})})
    data = data if data is not None else load_dataset(config.data)  # data errors leave the store untouched
    with torch_settings(config.engine.threads):
        if isinstance(store, Store):
            outcome = kind.run(config, data, store, progress)
        else:
            with Store(store, write=True) as db:
                outcome = kind.run(config, data, db, progress)
    return Study(store, config.experiment.name, outcome)
