"""Experiment kinds: what `[experiment] kind` selects, as plugins behind one protocol.

A kind validates a config before any data or store is touched, checks what needs the data,
runs (or continues) an experiment in a store, and reads it back: export tables, summary,
paired comparisons, HTML report and terminal output. The API, `Study` and the CLI call this
protocol only; each kind lives in its own package (`mask/`, `supernet/`) and a user's kind is
one class plus `register_kind`. This module imports nothing heavy: the built-in kinds are
imported when first asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from .errors import SparsearchError


class ExperimentKind(Protocol):
    """One kind of experiment. `tables` names what `export` can give, the default first;
    `Settings`, a pydantic model of the kind's own `[kinds.NAME]` table, or None (`settings`
    reads it validated)."""

    name: str
    tables: tuple[str, ...]
    Settings: type | None

    def validate(self, config) -> None:
        """Refuse, in one line, what the config gets wrong, before data or store are touched."""

    def check_data(self, config, data) -> None:
        """Refuse what needs the data (a parent at its shape, memory), before the store is touched."""

    def run(self, config, data, store, progress, executor) -> Any:
        """Run (or continue) the experiment in `store`; return what this run did (`Study.outcome`)."""

    def export(self, store, experiment: str, table: str) -> tuple[list[str], list[dict]]:
        """The columns and rows of one of `tables`."""

    def summary(self, store, experiment: str, config) -> Any:
        """The typed summary `Study.summary` returns."""

    def compare(self, store, experiment: str, config, metric: str | None) -> list:
        """Paired comparisons (`analysis.paired.Comparison`) of `metric` (None: the kind's default)."""

    def report(self, store, experiment: str, config, out_dir: Path) -> Path:
        """Write the HTML report into `out_dir`; return index.html."""

    def show(self, store, experiment: str, config, console, verdicts: bool = False) -> None:
        """Print the experiment's summary for a terminal: `console.print(text_or_rich_table)`;
        paired comparisons as one table, or with `verdicts` (`--verdicts`) one sentence each."""

    def done_line(self, outcome, store: str, seconds: float) -> str:
        """One line saying what a finished run did."""

    def settings_in_full(self, config):
        """`config` with every setting of this kind spelled out (what `config --check` prints)."""


MEMBERS = ("name", "tables", "Settings", "validate", "check_data", "run", "export", "summary", "compare", "report", "show",
           "done_line", "settings_in_full")
"""What `register_kind` checks a kind has."""

KINDS: dict[str, ExperimentKind] = {}


def register_kind(kind: ExperimentKind) -> None:
    """Make `[experiment] kind = kind.name` run `kind` (an object implementing `ExperimentKind`)."""
    name = getattr(kind, "name", None)
    if not isinstance(name, str) or not name:
        raise SparsearchError(f"register_kind: the kind needs a non-empty string `name`, got {name!r}")
    if name in BUILTIN:
        raise SparsearchError(f"register_kind: {name!r} is a built-in kind's name, which it would replace; give your "
                              f"kind a name of its own")
    missing = [member for member in MEMBERS if not hasattr(kind, member)]
    if missing:
        raise SparsearchError(f"register_kind: kind {name!r} lacks {', '.join(missing)} (see sparsearch.ExperimentKind)")
    KINDS[name] = kind


BUILTIN = ("mask", "supernet")


def _builtins() -> None:
    if "mask" not in KINDS:
        from .mask.kind import MASK
        from .supernet.kind import SUPERNET

        KINDS.update(mask=MASK, supernet=SUPERNET)


def experiment_kind(name: str, field: str = "experiment.kind") -> ExperimentKind:
    """The registered kind `name`, or a one-line error (about `field`) naming the known ones."""
    _builtins()
    if name not in KINDS:
        raise SparsearchError(f"{field}: unknown kind {name!r}; known: {', '.join(sorted(KINDS))}")
    return KINDS[name]


def kind_of(config) -> ExperimentKind:
    """The kind a validated config asks for (every `[kinds.NAME]` table must name a known kind)."""
    for name in config.kinds:
        experiment_kind(name, f"kinds.{name}")
    return experiment_kind(config.experiment.kind)


def settings(config):
    """The config's kind's own settings: its `[kinds.NAME]` table validated by its `Settings`
    (None for a kind without settings, which refuses a table)."""
    from .config import validated

    kind = kind_of(config)
    raw = config.kinds.get(kind.name, {})
    if kind.Settings is None:
        if raw:
            raise SparsearchError(f"kinds.{kind.name}: the {kind.name} kind has no settings, got {', '.join(raw)}")
        return None
    return validated(kind.Settings, raw, f"kinds.{kind.name}")
