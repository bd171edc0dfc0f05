"""What a run may do to a stored experiment of the same name: continue it when its config is
unchanged in everything that determines results, replace its plan only when asked to
(`--replace`, `replace=True`), and register a new one before any planning, so an interrupted
run is listed and resumed by the same command."""

from __future__ import annotations

from .config import Config, config_as_run, to_toml, tomllib
from .errors import SparsearchError
from .store import Store

RESULT_FREE = {
    "engine": {"max_population", "max_memory_gb", "threads", "executor", "address", "retries", "device"},
    "store": {"save_weights"},
    "measure": {"latency", "batch_size", "warmup", "repeats", "kernel"},
    "log": {"tensorboard", "mlflow", "mlflow_uri", "mlflow_experiment", "loggers"},
}
"""Settings that change where or how fast a run computes, or what else it keeps, never its results."""

SHOWN = 4
"""At most this many changed keys are named in the refusal."""


def _flat(tree: dict, prefix: str = "") -> dict[str, object]:
    """Dotted keys -> values of a nested config dump, without the result-free settings."""
    out = {}
    for key, value in tree.items():
        if key in RESULT_FREE.get(prefix.rstrip("."), ()):
            continue
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def changes(stored_toml: str, config: Config) -> list[str]:
    """The plan-relevant keys in which `config` differs from a stored config, as `key old -> new`."""
    try:
        old = _flat(config_as_run(stored_toml).model_dump(exclude_none=True))
    except (SparsearchError, tomllib.TOMLDecodeError):
        return ["the stored config (unreadable by this version)"]
    new = _flat(config.model_dump(exclude_none=True))
    return [f"{key} {old.get(key, '(unset)')!r} -> {new.get(key, '(unset)')!r}"
            for key in sorted(old.keys() | new.keys()) if old.get(key) != new.get(key)]


def admit(store: Store, config: Config, replace: bool) -> None:
    """Refuse a run that would change the plan of a stored experiment of the same name unless
    `replace`; register the experiment if it is new (its plan comes once planning is done)."""
    stored = store.stored_config(config.experiment.name)
    if stored is None:
        store.register_experiment(config.experiment.name, to_toml(config))
        return
    changed = changes(stored, config)
    if changed and not replace:
        shown = "; ".join(changed[:SHOWN]) + (f"; and {len(changed) - SHOWN} more" if len(changed) > SHOWN else "")
        raise SparsearchError(
            f"experiment {config.experiment.name!r} in {store.path} was run with another config ({shown}); pass "
            f"--replace (API: replace=True) to replace its plan, or set [experiment] name to keep both"
        )
