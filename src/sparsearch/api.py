"""`sparsearch.run`: run (or continue) an experiment from a notebook and get its `Study` back."""

from __future__ import annotations

import warnings
from contextlib import nullcontext
from pathlib import Path

from .config import Config, config_from_dict, load_config, with_engine
from .data import Dataset, load_dataset
from .engine.device import resolve_device
from .engine.executor import torch_settings
from .engine.executors import open_executor
from .engine.precision import SlowPrecisionWarning, slow_bf16_note
from .errors import SparsearchError, one_line
from .kinds import kind_of, settings
from .progress import Progress
from .reruns import admit
from .store import Store
from .store.sqlite import MEMORY
from .store.lock import check_free
from .study import Study


def as_config(config: Config | dict | str | Path) -> Config:
    """A validated Config from a Config, a dict shaped like the TOML, or the path of a TOML file."""
    if isinstance(config, Config):
        return config
    if isinstance(config, dict):
        return config_from_dict(config)
    if isinstance(config, (str, Path)):
        return load_config(config)
    raise SparsearchError(f"config must be a Config, a dict or a TOML path, got {_quoted(config)}")


def _quoted(value: object) -> str:
    """`value` as an error message quotes it: its repr on one line, cut short, and its type."""
    text = one_line(repr(value))
    return f"{text if len(text) <= 80 else text[:77] + '...'} ({type(value).__name__})"


def _check_arguments(store: object, progress: object, replace: object) -> None:
    """Refuse arguments of the wrong kind in one line each, before anything is read or opened."""
    if not isinstance(store, (Store, str, Path)):
        raise SparsearchError(f"store must be a path or an open sparsearch.Store, got {_quoted(store)}")
    if not isinstance(progress, bool) and progress is not None and not all(
            callable(getattr(progress, m, None)) for m in ("phase", "advance")):
        raise SparsearchError(f"progress must be None, True, False or have phase(label, total) and advance(n) methods "
                              f"(see sparsearch.Progress), got {_quoted(progress)}")
    if not isinstance(replace, bool):
        raise SparsearchError(f"replace must be True or False, got {_quoted(replace)}")


def run(
    config: Config | dict | str | Path = None,
    *,
    store: Store | str | Path = "sparsearch.db",
    data: Dataset | None = None,
    progress: Progress | bool | None = None,
    executor: str | None = None,
    address: str | None = None,
    replace: bool = False,
) -> Study:
    """Run (or continue) the experiment `config` (the built-in default if None) in `store`, on
    `data` if given (else the dataset the config names), and return its Study. Only trials the
    store lacks are trained. `executor` and `address`, if given, replace `[engine] executor` and
    `address` ("ray": populations train as Ray tasks, on the cluster at `address` or on a local
    Ray instance; docs/distributed.md). Progress bars are drawn on stderr when it is a terminal or
    the run is in a Jupyter notebook (`progress=None`), always (`True`) or never (`False`); a
    `Progress` object receives the phases instead. A stored experiment of the same name whose config
    differs in what determines results is refused unless `replace` (reruns.py). Everything that
    can be validated is, before the store is touched."""
    from .display import shown_progress

    _check_arguments(store, progress, replace)
    config = Config() if config is None else as_config(config)
    config = with_engine(config, executor=executor, address=address)
    kind = kind_of(config)
    settings(config)  # a kind's own [kinds.NAME] table
    kind.validate(config)
    device = resolve_device(config.engine.device)  # a missing GPU is said here, before the store is touched
    where = open_executor(config.engine)  # so is a missing Ray
    note = slow_bf16_note(config.engine.precision, device)
    if note is not None:
        warnings.warn(note, SlowPrecisionWarning, stacklevel=2)
    if data is not None:
        if not isinstance(data, Dataset):
            raise SparsearchError(f"data must be a sparsearch.Dataset (see Dataset.from_arrays), got {_quoted(data)}")
        config = config.model_copy(update={"data": config.data.model_copy(update={"name": data.name})})
    if not isinstance(store, Store) and str(store) != MEMORY:
        check_free(Path(store))  # a busy store is said before the data loads
    data = data if data is not None else load_dataset(config.data)  # data errors leave the store untouched
    kind.check_data(config, data)  # so do errors that need the data (a parent at its shape)
    opened = nullcontext(store) if isinstance(store, Store) else Store(store, write=True)
    with torch_settings(config.engine.thread_choice.count, device), where as chunks_executor, opened as db:
        admit(db, config, replace)
        with shown_progress(progress) as shown:
            outcome = kind.run(config, data, db, shown, chunks_executor)
    return Study(store, config.experiment.name, outcome)
