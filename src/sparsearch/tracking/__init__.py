"""Experiment tracking: a mask study's trials also sent to TensorBoard, MLflow or a logger you
register (Weights & Biases, ...), as `[log]` asks.

Loggers see what the store holds, after it is stored: they never change a result. A missing
package or an unknown logger is refused before the store is touched; a logger that fails while
the run goes on is dropped with a warning (`LoggerWarning`) and the run finishes without it.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import SparsearchError, described
from ..extras import install_hint
from ..store import PlanLink, Store
from .base import MEMBERS, METRICS, LoggedTrial, Logger

__all__ = ["LoggedTrial", "Logger", "LoggerWarning", "Tracking", "check_log", "register_logger"]

BUILTIN = ("tensorboard", "mlflow")
"""Built-in loggers, each needing the package of its name (the extra of its name, `extras.install_hint`)."""

LOGGERS: dict[str, Callable[[], Logger]] = {}
"""Registered loggers by name: a factory (a class, say) that builds one for a run."""


class LoggerWarning(UserWarning):
    """A logger failed; the run goes on without it (its results are unaffected)."""


def register_logger(name: str, factory: Callable[[], Logger]) -> None:
    """Make `[log] loggers = [name]` log to `factory()`, an object with the `Logger` members
    (`start`, `trial`, `finish`), built once per run when it starts (keep building cheap: `start`
    connects). A class lacking a member is refused here, a factory failing when the run starts.
    Registering a name again replaces it."""
    if not isinstance(name, str) or not name:
        raise SparsearchError(f"register_logger: the name must be a non-empty string, got {name!r}")
    if name in BUILTIN:
        raise SparsearchError(f"register_logger: {name!r} is a built-in logger ([log] {name}); give yours a name "
                              f"of its own")
    if not callable(factory):
        raise SparsearchError(f"register_logger: {name!r} needs a factory (a class or function) building a Logger, "
                              f"got {factory!r}")
    if isinstance(factory, type):
        _check_members(name, factory)
    LOGGERS[name] = factory


def _check_members(name: str, logger) -> None:
    missing = [member for member in MEMBERS if not callable(getattr(logger, member, None))]
    if missing:
        raise SparsearchError(f"logger {name!r} lacks {', '.join(missing)} (see sparsearch.Logger)")


def check_log(config) -> None:
    """Refuse, in one line and before data or store are touched, a `[log]` that cannot log: a
    built-in logger's package missing, a TensorBoard folder that is a file, a logger nobody registered."""
    log = config.log
    wanted = [name for name, on in (("tensorboard", log.tensorboard is not None), ("mlflow", log.mlflow)) if on]
    for name in wanted:
        if importlib.util.find_spec(name) is None:
            raise SparsearchError(f"log.{name}: logging to {name} needs the {name} package, which is not installed; "
                                  f"{install_hint(name)}")
    if log.tensorboard is not None and Path(log.tensorboard).exists() and not Path(log.tensorboard).is_dir():
        raise SparsearchError(f"log.tensorboard: {log.tensorboard!r} is a file; name a folder")
    for name in log.loggers:
        if name not in LOGGERS:
            known = ", ".join(sorted(LOGGERS)) or "none registered"
            raise SparsearchError(f"log.loggers: unknown logger {name!r} (known: {known}); register it with "
                                  f"sparsearch.register_logger")


def _built(config) -> dict[str, Logger]:
    """The run's loggers by name; a registered factory that fails or builds no Logger is refused."""
    from .mlflow_logger import MlflowLogger
    from .tensorboard_logger import TensorBoardLogger

    log = config.log
    loggers: dict[str, Logger] = {}
    if log.tensorboard is not None:
        loggers["tensorboard"] = TensorBoardLogger(log.tensorboard)
    if log.mlflow:
        loggers["mlflow"] = MlflowLogger(log.mlflow_uri, log.mlflow_experiment)
    for name in log.loggers:
        try:
            logger = LOGGERS[name]()
        except Exception as error:
            raise SparsearchError(f"registered logger {name!r} failed: {described(error)}") from error
        _check_members(name, logger)
        loggers[name] = logger
    return loggers


class Tracking:
    """The loggers of one run. Each call reaches every logger still working; one that raises is
    warned about (`LoggerWarning`) and dropped."""

    def __init__(self, config):
        self.config, self.loggers = config, _built(config)

    def _each(self, what: str, call: Callable[[Logger], None]) -> None:
        for name, logger in list(self.loggers.items()):
            try:
                call(logger)
            except Exception as error:
                del self.loggers[name]
                warnings.warn(f"[log] {name}: {what} failed ({described(error)}); it logs nothing more in this run "
                              f"(results are unaffected)", LoggerWarning, stacklevel=2)

    @contextmanager
    def running(self) -> Iterator[Tracking]:
        """`start` every logger, and `finish` each that started when the block ends (also on an error)."""
        config = self.config
        self._each("start", lambda logger: logger.start(config.experiment.name, config.model_dump(exclude_none=True)))
        try:
            yield self
        finally:
            self._each("finish", lambda logger: logger.finish())

    def trials(self, store: Store, links: list[PlanLink]) -> None:
        """Log the stored trials answering `links` (nothing is read without a logger)."""
        if not self.loggers:
            return
        for link in links:
            trial = logged(store, link)
            self._each("trial", lambda logger: logger.trial(trial))


def logged(store: Store, link: PlanLink) -> LoggedTrial:
    """The stored trial answering `link`, as loggers receive it."""
    stored = store.trial(link.trial_key)
    metrics = {name: float(stored[name]) for name in METRICS if stored[name] is not None}
    return LoggedTrial(link.trial_key, link.arm, link.sparsity, link.seed, stored["curves"], metrics, stored["status"])
