"""The experiment store: one SQLite file holding experiments, trials, their weights (final and
best-validation, `[store] save_weights`) and which trial answers which (experiment, arm,
sparsity, seed).

- Trials are keyed by a hash of everything that determines their result, so a trial computed
  once is reused by any experiment that plans it.
- Crash safety: WAL journal; a population's trials, weights and plan rows are written in one
  transaction, so the store never holds a half-written trial and a kill loses at most the
  population in flight.
- One writer at a time (`WriterLock`); readers never block it.
- The file is marked with SQLite's `application_id` and versioned (`schema.py`); any other
  file is refused before anything is written, and older stores are migrated in place.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

from typing import TYPE_CHECKING

from ..errors import SparsearchError

from .lock import WriterLock
from .schema import APPLICATION_ID, FRESH, MIGRATIONS, SCHEMA_VERSION, TABLES

if TYPE_CHECKING:
    from torch import Tensor


def save_safetensors(tensors: dict[str, Tensor]) -> bytes:
    """Tensors as safetensors bytes (torch is imported here, when weights are written, so a command
    that only reads the store's tables never loads it)."""
    from safetensors.torch import save

    return save(tensors)


def load_safetensors(data: bytes) -> dict[str, Tensor]:
    """The tensors of safetensors bytes (never unpickled)."""
    from safetensors.torch import load

    return load(data)

STORED_COLUMNS = (
    "experiment", "arm", "dataset", "sparsity", "node_sparsity", "weight_sparsity", "seed", "params",
    "flops", "test_acc", "final_test_acc", "best_val_acc", "best_epoch", "epochs_to_target",
    "train_seconds", "status", "trial_key",
)
"""What `Store.trial_rows` gives per planned trial (analysis/export.py adds derived metrics)."""



@dataclass(frozen=True)
class TrialRecord:
    """One trained network as stored: its key, what it cost, its metrics, curves and spec."""

    key: str
    dataset: str
    mask: object  # the mask as JSON (node: kept indices; weight: packed bits)
    node_sparsity: float
    weight_sparsity: float
    params: int
    flops: int
    test_acc: float
    final_test_acc: float
    best_val_acc: float
    best_epoch: int
    epochs_to_target: int
    train_seconds: float
    status: str
    curves: dict
    spec: dict


TRIAL_COLUMNS = tuple(f.name for f in fields(TrialRecord))


@dataclass(frozen=True)
class PlanLink:
    """Which trial answers an experiment's (arm, sparsity, seed)."""

    arm: str
    sparsity: float
    seed: int
    trial_key: str


@dataclass(frozen=True)
class TrialWeights:
    """A trained network's weights as stored, each a state dict (named tensors): `final` at the
    end of its training and `best` at its best validation epoch, None where that is the last
    epoch (then they are the final ones) or where an older sparsearch kept the final ones alone;
    `best_masks`, the weight masks of the best epoch where they differ from the trial's (an arm
    that prunes during training), else None."""

    final: dict[str, Tensor]
    best: dict[str, Tensor] | None = None
    best_masks: list[Tensor] | None = None


FINAL_ONLY, WITH_BEST = "safetensors", "safetensors+best"
"""Formats of a `weights` row: the final state dict alone (as every version wrote it), or one
safetensors file with the final state dict under `final/`, the best under `best/` and the best
epoch's weight masks as `best_mask/LAYER`."""


def _encoded(weights: TrialWeights) -> tuple[str, bytes]:
    if weights.best is None and weights.best_masks is None:
        return FINAL_ONLY, save_safetensors(weights.final)
    named = {f"final/{k}": t for k, t in weights.final.items()}
    named.update((f"best/{k}", t) for k, t in (weights.best or {}).items())
    named.update((f"best_mask/{i}", m) for i, m in enumerate(weights.best_masks or []))
    return WITH_BEST, save_safetensors(named)


def _decoded(format: str, data: bytes) -> TrialWeights:
    named = load_safetensors(data)
    if format == FINAL_ONLY:
        return TrialWeights(named)
    parts: dict[str, dict[str, Tensor]] = {"final": {}, "best": {}, "best_mask": {}}
    for name, tensor in named.items():
        part, rest = name.split("/", 1)
        parts[part][rest] = tensor
    masks = [parts["best_mask"][str(i)] for i in range(len(parts["best_mask"]))]
    return TrialWeights(parts["final"], parts["best"] or None, masks or None)


FAILURE_COLUMNS = ("experiment", "arm", "sparsity", "seed", "trial_key", "reason")

MEMORY = ":memory:"
"""A store path that keeps everything in memory (nothing is written to disk)."""

FAULT_PAUSE = "SPARSEARCH_FAULT_PAUSE_BEFORE_COMMIT"
"""Test-only fault injection: `MARKER:N` makes the N-th trial write of the process create the
file MARKER and wait inside its open transaction until it is killed (or, as a guard against a
leaked process, an hour has passed), so a test can kill it mid-write at its own pace."""


@contextmanager
def sqlite_errors(path: Path) -> Iterator[None]:
    """Turn SQLite failures into one-line SparsearchErrors naming the store: a full disk, a busy
    or unreadable file, a damaged one (a corrupt page found by a read or a write)."""
    try:
        yield
    except sqlite3.OperationalError as error:
        if "full" in str(error):
            raise SparsearchError(f"store {path}: disk full; free space and rerun (completed trials are kept)") from None
        raise SparsearchError(f"store {path}: {error}") from None
    except sqlite3.IntegrityError:
        raise  # a constraint the program broke, not the user's file: a bug to report
    except sqlite3.DatabaseError as error:
        raise SparsearchError(_damaged(path, error)) from None


def _damaged(path: Path, problem: object) -> str:
    return f"store {path} is damaged or not a sparsearch store ({problem}); restore it from a copy or pass another --store path"


class _Cursor(sqlite3.Cursor):
    """A cursor whose every read and write reports SQLite failures as one-line SparsearchErrors."""

    def execute(self, *args):
        with sqlite_errors(self.connection.path):
            return super().execute(*args)

    def executemany(self, *args):
        with sqlite_errors(self.connection.path):
            return super().executemany(*args)

    def fetchone(self):
        with sqlite_errors(self.connection.path):
            return super().fetchone()

    def fetchall(self):
        with sqlite_errors(self.connection.path):
            return super().fetchall()

    def __next__(self):
        with sqlite_errors(self.connection.path):
            return super().__next__()


class _Connection(sqlite3.Connection):
    """A connection whose statements run on `_Cursor`s; `path` names the store in errors."""

    path: Path

    def execute(self, *args):
        return _Cursor(self).execute(*args)

    def executemany(self, *args):
        return _Cursor(self).executemany(*args)


def _connect(target: str, path: Path, **kwargs) -> _Connection:
    db = sqlite3.connect(target, factory=_Connection, **kwargs)
    db.path = path
    return db


class Store:
    """A sparsearch store at `path`.

    `write=True` creates the store if absent, migrates an older one and takes the writer lock;
    `write=False` opens an existing store read-only.
    """

    @classmethod
    def open(cls, path: str | Path, *, write: bool = False) -> "Store":
        """Open an existing store (read-only unless `write`); use it as a context manager."""
        return cls(path, write=write)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __init__(self, path: str | Path, *, write: bool):
        self.path = Path(path)
        self.lock = None
        self.db = None
        self._writes = 0
        memory = str(path) == MEMORY
        created = False
        if not memory:
            fresh = not self.path.exists() or self.path.stat().st_size == 0
            if fresh and not write:
                raise SparsearchError(f"no store at {self.path}; check --store")
            if not fresh:
                self._check_prefix()
            if write:
                self._check_writable()
                self.lock = WriterLock(self.path)
                created = not self.path.exists()
        try:
            with self._errors():
                if memory or write:
                    self.db = _connect(str(path), self.path, timeout=30, isolation_level=None)
                else:
                    self.db = self._reader()
                self.db.execute("PRAGMA foreign_keys = ON")
                self._initialise_or_upgrade(write, memory)
        except SparsearchError:
            self.close()
            if created:  # a store this call began to create holds nothing yet: leave no husk
                for leftover in (self.path, *(self.path.with_name(self.path.name + end) for end in ("-wal", "-shm"))):
                    leftover.unlink(missing_ok=True)
            raise

    # opening -----------------------------------------------------------------------------
    def _check_prefix(self) -> None:
        """Refuse a file that is not an SQLite database at all, before SQLite opens it."""
        try:
            with open(self.path, "rb") as handle:
                header = handle.read(16)
        except OSError as error:
            raise SparsearchError(f"cannot read store {self.path}: {error.strerror}") from None
        if header != b"SQLite format 3\x00":
            raise SparsearchError(f"{self.path} is not a sparsearch store; pass another --store path")

    def _reader(self) -> sqlite3.Connection:
        """A read-only connection; on read-only storage (where SQLite cannot create the WAL's
        shared-memory file) the file is opened as immutable, which is what it is there."""
        uri = self.path.resolve().as_uri()
        db = _connect(f"{uri}?mode=ro", self.path, uri=True, isolation_level=None)
        try:
            db.execute("PRAGMA user_version").fetchone()
            return db
        except SparsearchError as error:
            db.close()
            if "unable to open" not in str(error) and "readonly" not in str(error):
                raise
            return _connect(f"{uri}?mode=ro&immutable=1", self.path, uri=True, isolation_level=None)

    def _check_writable(self) -> None:
        """The store's folder must be writable (SQLite keeps its journal and we our lock there)."""
        folder = self.path.parent
        if not folder.is_dir():
            raise SparsearchError(f"cannot create store {self.path}: folder {folder} does not exist")
        if not os.access(folder, os.W_OK) or (self.path.exists() and not os.access(self.path, os.W_OK)):
            raise SparsearchError(f"store {self.path} is not writable; pass a writable --store path")

    def _initialise_or_upgrade(self, write: bool, memory: bool) -> None:
        """Create the tables of a fresh store, migrate an older one, refuse anything else.

        The application id is written first, on its own, before WAL mode and the tables: a
        store killed while being created is still recognised as ours (version 0) and completed."""
        app = self.db.execute("PRAGMA application_id").fetchone()[0]
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        empty = self.db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0
        if app != APPLICATION_ID and not (app == 0 and version == 0 and empty):
            raise SparsearchError(f"{self.path} is an SQLite file but not a sparsearch store; pass another --store path")
        if version > SCHEMA_VERSION:
            raise SparsearchError(
                f"{self.path} was written by a newer sparsearch (store schema {version}, this one reads up to "
                f"{SCHEMA_VERSION}); upgrade sparsearch"
            )
        if not empty and not memory:
            self._check_integrity()
        if version == SCHEMA_VERSION:
            tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if TABLES - tables:
                raise SparsearchError(
                    f"{self.path} is damaged: table {', '.join(sorted(TABLES - tables))} missing; restore it from a "
                    f"backup or pass another --store path"
                )
            if write and not memory:
                self.db.execute("PRAGMA synchronous = NORMAL")
            return
        if not write:
            if version == 0:
                raise SparsearchError(f"no store at {self.path} (it was never completed); run `sparsearch run` on it")
            raise SparsearchError(
                f"{self.path} uses store schema {version}; run `sparsearch run` on it once to migrate it "
                f"to schema {SCHEMA_VERSION}"
            )
        if version == 0:
            self.db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            if not memory:
                self.db.execute("PRAGMA journal_mode = WAL")
        if not memory:
            self.db.execute("PRAGMA synchronous = NORMAL")
        with self.transaction():
            if version == 0:
                for statement in FRESH:
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            else:
                self._migrate_from(version)

    def _migrate_from(self, version: int) -> None:
        for step in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[step]:
                statement(self.db) if callable(statement) else self.db.execute(statement)
        self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _errors(self):
        """SQLite failures as one-line SparsearchErrors (see `sqlite_errors`)."""
        return sqlite_errors(self.path)

    def _check_integrity(self) -> None:
        """SQLite's quick check of every page of an existing store (cheap next to any run): a
        damaged page is named on opening, before anything reads or writes a wrong answer."""
        problems = [row[0] for row in self.db.execute("PRAGMA quick_check(3)")]
        if problems != ["ok"]:
            raise SparsearchError(_damaged(self.path, "; ".join(problems)))

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        with self._errors():
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                if self.db.in_transaction:  # SQLite may already have rolled back (e.g. disk full)
                    self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def close(self) -> None:
        if getattr(self, "db", None) is not None:
            self.db.close()
            self.db = None
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    # experiments -------------------------------------------------------------------------
    def register_experiment(self, name: str, config_toml: str) -> None:
        """List a new experiment (config, nothing planned yet) before its run plans anything."""
        now = time.time()
        with self.transaction():
            self.db.execute("INSERT OR IGNORE INTO experiments (name, config, planned, created, updated) "
                            "VALUES (?, ?, 0, ?, ?)", (name, config_toml, now, now))

    def begin_experiment(self, name: str, config_toml: str, planned: int) -> None:
        """Record (or replace) the experiment's config and forget its previous plan and failures
        (searches are kept: they are keyed by what determines them)."""
        now = time.time()
        with self.transaction():
            self.db.execute(
                "INSERT INTO experiments (name, config, planned, created, updated) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET config = excluded.config, planned = excluded.planned, "
                "updated = excluded.updated",
                (name, config_toml, planned, now, now),
            )
            self.db.execute("DELETE FROM plan WHERE experiment = ?", (name,))
            self.db.execute("DELETE FROM failures WHERE experiment = ?", (name,))

    def experiments(self) -> list[dict]:
        """Every experiment: name, planned and done counts (planned trials, and records that
        answer a planned unit such as a search), trials that failed in its last run, status,
        last update."""
        rows = self.db.execute(
            "SELECT e.name, e.planned, (SELECT COUNT(*) FROM plan p WHERE p.experiment = e.name) + "
            "(SELECT COALESCE(SUM(r.unit), 0) FROM records r WHERE r.experiment = e.name), "
            "(SELECT COUNT(*) FROM failures f WHERE f.experiment = e.name), e.updated FROM experiments e "
            "ORDER BY e.created"
        ).fetchall()
        return [
            {"name": n, "planned": planned, "done": done, "failed": failed, "updated": updated,
             "status": "complete" if done >= planned > 0 else "not planned yet" if planned == 0 else f"incomplete, {failed} failed" if failed else "incomplete"}
            for n, planned, done, failed, updated in rows
        ]

    def stored_config(self, name: str) -> str | None:
        """The TOML config experiment `name` last ran with, or None if there is no such experiment."""
        row = self.db.execute("SELECT config FROM experiments WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    def config_of(self, name: str) -> str:
        """The TOML config an experiment last ran with."""
        config = self.stored_config(name)
        if config is None:
            known = ", ".join(e["name"] for e in self.experiments()) or "none"
            raise SparsearchError(f"no experiment {name!r} in {self.path}; experiments: {known}")
        return config

    def remove(self, name: str) -> int:
        """Delete an experiment with its records, and those of its trials and of the artifacts
        its records name (a super-network, with its shared record) no other experiment uses;
        return how many trials were deleted."""
        self.config_of(name)
        with self.transaction():
            self.db.execute("CREATE TEMP TABLE doomed AS SELECT trial_key FROM plan WHERE experiment = ?", (name,))
            self.db.execute("CREATE TEMP TABLE doomed_artifacts AS SELECT artifact AS key FROM records "
                            "WHERE experiment = ? AND artifact IS NOT NULL", (name,))
            self.db.execute("DELETE FROM experiments WHERE name = ?", (name,))
            cursor = self.db.execute(
                "DELETE FROM trials WHERE key IN (SELECT trial_key FROM temp.doomed) "
                "AND key NOT IN (SELECT trial_key FROM plan)"
            )
            for table in ("artifacts", "shared_records"):
                self.db.execute(
                    f"DELETE FROM {table} WHERE key IN (SELECT key FROM temp.doomed_artifacts) AND key NOT IN "
                    "(SELECT artifact FROM records WHERE artifact IS NOT NULL)"
                )
            self.db.execute("DROP TABLE temp.doomed")
            self.db.execute("DROP TABLE temp.doomed_artifacts")
        return cursor.rowcount

    # trials ------------------------------------------------------------------------------
    def _keys_in(self, table: str, column: str, keys: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(k for (k,) in self.db.execute(f"SELECT {column} FROM {table} WHERE {column} IN ({marks})", chunk))
        return found

    def done_keys(self, keys: list[str]) -> set[str]:
        """Which of `keys` are stored trials."""
        return self._keys_in("trials", "key", keys)

    def keys_with_weights(self, keys: list[str]) -> set[str]:
        """Which of `keys` have stored weights."""
        return self._keys_in("weights", "trial_key", keys)

    def planned_by(self, key: str) -> list[tuple[str, PlanLink]]:
        """Every (experiment, plan link) that trial `key` answers, by experiment."""
        cursor = self.db.execute("SELECT experiment, arm, sparsity, seed, trial_key FROM plan WHERE trial_key = ? "
                                 "ORDER BY experiment, arm, sparsity, seed", (key,))
        return [(experiment, PlanLink(*link)) for experiment, *link in cursor]

    def record(
        self,
        experiment: str,
        trials: list[TrialRecord],
        links: list[PlanLink],
        weights: dict[str, TrialWeights] | None = None,
    ) -> None:
        """In one transaction: insert `trials`, their `weights` (by trial key) and the
        experiment's plan `links`."""
        now = time.time()
        with self.transaction():
            self.db.executemany(
                f"INSERT OR IGNORE INTO trials ({', '.join(TRIAL_COLUMNS)}, created) "
                f"VALUES ({', '.join('?' * len(TRIAL_COLUMNS))}, ?)",
                [tuple(_encode(v) for v in _values(t)) + (now,) for t in trials],
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO weights (trial_key, format, data) VALUES (?, ?, ?)",
                [(key, *_encoded(stored)) for key, stored in (weights or {}).items()],
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO plan (experiment, arm, sparsity, seed, trial_key) VALUES (?, ?, ?, ?, ?)",
                [(experiment, *_values(link)) for link in links],
            )
            self.db.executemany(
                "DELETE FROM failures WHERE experiment = ? AND arm = ? AND sparsity = ? AND seed = ?",
                [(experiment, link.arm, link.sparsity, link.seed) for link in links],
            )
            if trials:
                self._fault_pause()

    def record_failures(self, experiment: str, links: list[PlanLink], reason: str) -> None:
        """Record that the trials answering `links` could not be trained, and why."""
        now = time.time()
        with self.transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO failures (experiment, arm, sparsity, seed, trial_key, reason, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(experiment, *_values(link), reason, now) for link in links],
            )

    def failures(self, experiment: str) -> list[dict]:
        """The experiment's trials whose training failed in its last run (FAILURE_COLUMNS)."""
        cursor = self.db.execute(
            f"SELECT {', '.join(FAILURE_COLUMNS)} FROM failures WHERE experiment = ? ORDER BY sparsity, arm, seed",
            (experiment,),
        )
        return [dict(zip(FAILURE_COLUMNS, row)) for row in cursor]

    def _fault_pause(self) -> None:
        spec = os.environ.get(FAULT_PAUSE)
        self._writes += 1
        if spec:
            marker, nth = spec.rsplit(":", 1)
            if self._writes == int(nth):
                Path(marker).touch()
                time.sleep(3600)

    def artifacts(self, keys: list[str]) -> dict[str, dict[str, Tensor]]:
        """The stored trainings among `keys` (see arms/training.py), as named tensors."""
        found = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            cursor = self.db.execute(
                f"SELECT key, tensors FROM artifacts WHERE key IN ({','.join('?' * len(chunk))})", chunk
            )
            found.update((key, load_safetensors(blob)) for key, blob in cursor)
        return found

    def record_artifacts(self, artifacts: dict[str, dict[str, Tensor]]) -> None:
        """Keep trainings (key -> named tensors) in one transaction."""
        now = time.time()
        with self.transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO artifacts (key, tensors, created) VALUES (?, ?, ?)",
                [(key, save_safetensors(tensors), now) for key, tensors in artifacts.items()],
            )

    # records -----------------------------------------------------------------------------
    def write_records(self, experiment: str, type: str, values: dict[str, object], *, unit: bool = False,
                      artifacts: dict[str, str] | None = None, replace_all: bool = False) -> None:
        """In one transaction: store each of `values` (key -> JSON-able value) as a record of
        `type` of `experiment`, replacing one of the same key (`replace_all`: every record of
        that type of the experiment). `unit`: each answers one planned unit of the experiment
        (`experiments` counts it as done); `artifacts`: the artifact a record's key uses (kept
        while a record names it, removed with the last experiment that does)."""
        now = time.time()
        with self.transaction():
            if replace_all:
                self.db.execute("DELETE FROM records WHERE experiment = ? AND type = ?", (experiment, type))
            self.db.executemany(
                "INSERT OR REPLACE INTO records (experiment, type, key, value, unit, artifact, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(experiment, type, key, json.dumps(value), int(unit), (artifacts or {}).get(key), now)
                 for key, value in values.items()],
            )

    def records(self, experiment: str, type: str, key: str | None = None) -> dict[str, object]:
        """Records of `type` of `experiment` (only `key`'s, if given): key -> value, in key order."""
        where, args = ("AND key = ?", (experiment, type, key)) if key is not None else ("", (experiment, type))
        cursor = self.db.execute(f"SELECT key, value FROM records WHERE experiment = ? AND type = ? {where} ORDER BY key",
                                 args)
        return {k: json.loads(value) for k, value in cursor}

    def write_shared(self, type: str, values: dict[str, object]) -> None:
        """Store records of `type` that belong to no one experiment (a cache: the latency table)."""
        now = time.time()
        with self.transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO shared_records (type, key, value, created) VALUES (?, ?, ?, ?)",
                [(type, key, json.dumps(value), now) for key, value in values.items()],
            )

    def shared(self, type: str, key: str | None = None) -> dict[str, object]:
        """Shared records of `type` (only `key`'s, if given): key -> value, in key order."""
        where, args = ("AND key = ?", (type, key)) if key is not None else ("", (type,))
        cursor = self.db.execute(f"SELECT key, value FROM shared_records WHERE type = ? {where} ORDER BY key", args)
        return {k: json.loads(value) for k, value in cursor}

    def trial(self, key: str) -> dict:
        """The stored trial `key`: its mask (JSON), spec and metrics."""
        row = self.db.execute(
            f"SELECT {', '.join(TRIAL_COLUMNS)} FROM trials WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            raise SparsearchError(f"no trial {key!r} in {self.path}; take keys from study.trials().trial_key")
        record = dict(zip(TRIAL_COLUMNS, row))
        for column in ("mask", "curves", "spec"):
            record[column] = json.loads(record[column])
        return record

    def weights(self, key: str) -> TrialWeights:
        """The stored weights of trial `key`, each a state dict its parent kind names (an MLP's
        as an `nn.Sequential` of Linear/ReLU layers)."""
        row = self.db.execute("SELECT format, data FROM weights WHERE trial_key = ?", (key,)).fetchone()
        if row is None:
            raise SparsearchError(f"no weights stored for trial {key!r}; rerun with [store] save_weights = true")
        return _decoded(*row)

    def curves(self, experiment: str) -> dict[str, dict[str, list[float]]]:
        """Per-epoch curves (train_loss, val_acc, test_acc) of the experiment's trials, by trial key."""
        cursor = self.db.execute(
            "SELECT t.key, t.curves FROM plan p JOIN trials t ON t.key = p.trial_key WHERE p.experiment = ?",
            (experiment,),
        )
        return {key: json.loads(curves) for key, curves in cursor}

    def trial_rows(self, experiment: str | None = None) -> tuple[list[dict], dict[str, list[float]]]:
        """One row per planned, completed trial (STORED_COLUMNS), ordered by experiment,
        sparsity, arm and seed, and each row's validation-accuracy curve by trial key."""
        where, args = ("WHERE p.experiment = ?", (experiment,)) if experiment else ("", ())
        cursor = self.db.execute(
            "SELECT p.experiment, p.arm, t.dataset, p.sparsity, t.node_sparsity, t.weight_sparsity, p.seed, "
            "t.params, t.flops, t.test_acc, t.final_test_acc, t.best_val_acc, t.best_epoch, t.epochs_to_target, "
            "t.train_seconds, t.status, t.key, json_extract(t.curves, '$.val_acc') "
            f"FROM plan p JOIN trials t ON t.key = p.trial_key {where} ORDER BY p.experiment, p.sparsity, p.arm, p.seed",
            args,
        )
        fetched = cursor.fetchall()  # the stored columns, then the validation curve alone (not every curve)
        rows = [dict(zip(STORED_COLUMNS, row[:-1])) for row in fetched]
        return rows, {row["trial_key"]: json.loads(fetched_row[-1] or "null") for row, fetched_row in zip(rows, fetched)}


def _values(record) -> tuple:
    """A dataclass record's field values, as they are (`dataclasses.astuple` deep-copies every
    curve list: 0.4 s for 256 trials)."""
    return tuple(getattr(record, f.name) for f in fields(record))


def _encode(value):
    return json.dumps(value) if isinstance(value, (list, dict)) else value
