"""The experiment store: one SQLite file holding experiments, trials and which trial answers
which (experiment, arm, sparsity, seed).

Trials are keyed by a hash of everything that determines their result, so a trial computed
once is reused by any experiment that plans it. A population's trials are written in one
transaction: the store never holds a half-written trial. The file is marked with SQLite's
`application_id` and a schema version; any other file is refused, never overwritten.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

from ..errors import SparsearchError

APPLICATION_ID = 0x53505253  # "SPRS"
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE experiments (
    name TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    planned INTEGER NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE trials (
    key TEXT PRIMARY KEY,
    dataset TEXT NOT NULL,
    mask TEXT NOT NULL,
    node_sparsity REAL NOT NULL,
    weight_sparsity REAL NOT NULL,
    params INTEGER NOT NULL,
    flops INTEGER NOT NULL,
    test_acc REAL NOT NULL,
    final_test_acc REAL NOT NULL,
    best_val_acc REAL NOT NULL,
    best_epoch INTEGER NOT NULL,
    epochs_to_target INTEGER NOT NULL,
    train_seconds REAL NOT NULL,
    status TEXT NOT NULL,
    curves TEXT NOT NULL,
    spec TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE plan (
    experiment TEXT NOT NULL REFERENCES experiments(name) ON DELETE CASCADE,
    arm TEXT NOT NULL,
    sparsity REAL NOT NULL,
    seed INTEGER NOT NULL,
    trial_key TEXT NOT NULL REFERENCES trials(key),
    PRIMARY KEY (experiment, arm, sparsity, seed)
);
"""

TRIAL_COLUMNS = (
    "key", "dataset", "mask", "node_sparsity", "weight_sparsity", "params", "flops", "test_acc",
    "final_test_acc", "best_val_acc", "best_epoch", "epochs_to_target", "train_seconds", "status",
    "curves", "spec",
)

EXPORT_COLUMNS = (
    "experiment", "arm", "dataset", "sparsity", "node_sparsity", "weight_sparsity", "seed", "params",
    "flops", "test_acc", "final_test_acc", "best_val_acc", "best_epoch", "epochs_to_target",
    "train_seconds", "status", "trial_key",
)


class Store:
    """A sparsearch store at `path`, created if absent (`create=False` refuses that)."""

    def __init__(self, path: str | Path, *, create: bool = True):
        self.path = Path(path)
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        if fresh and not create:
            raise SparsearchError(f"no store at {self.path}; check --store")
        if fresh and not self.path.parent.is_dir():
            raise SparsearchError(f"cannot create store {self.path}: folder {self.path.parent} does not exist")
        if not fresh:
            self._check_header()
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA foreign_keys = ON")
            if fresh:
                self._create()
            else:
                self._check_version()
        except sqlite3.OperationalError as error:
            raise SparsearchError(f"cannot open store {self.path}: {error}") from None

    def _check_header(self) -> None:
        """Refuse a file that is not an SQLite database with our application id, before any write."""
        try:
            with open(self.path, "rb") as handle:
                header = handle.read(100)
        except OSError as error:
            raise SparsearchError(f"cannot read store {self.path}: {error.strerror}") from None
        if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
            raise SparsearchError(f"{self.path} is not a sparsearch store; pass another --store path")
        if int.from_bytes(header[68:72], "big") != APPLICATION_ID:
            raise SparsearchError(f"{self.path} is an SQLite file but not a sparsearch store; pass another --store path")

    def _create(self) -> None:
        with self.transaction():
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            self.db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _check_version(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SparsearchError(
                f"{self.path} was written by a newer sparsearch (store schema {version}, this one reads "
                f"{SCHEMA_VERSION}); upgrade sparsearch"
            )

    def transaction(self):
        """Context manager: BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        return _Transaction(self.db)

    def close(self) -> None:
        self.db.close()

    # experiments -------------------------------------------------------------------------
    def begin_experiment(self, name: str, config_toml: str, planned: int) -> None:
        """Record (or replace) the experiment's config and forget its previous plan."""
        now = time.time()
        with self.transaction():
            self.db.execute(
                "INSERT INTO experiments (name, config, planned, created, updated) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET config = excluded.config, planned = excluded.planned, "
                "updated = excluded.updated",
                (name, config_toml, planned, now, now),
            )
            self.db.execute("DELETE FROM plan WHERE experiment = ?", (name,))

    def experiments(self) -> list[dict]:
        rows = self.db.execute(
            "SELECT e.name, e.planned, COUNT(p.trial_key) FROM experiments e "
            "LEFT JOIN plan p ON p.experiment = e.name GROUP BY e.name ORDER BY e.created"
        ).fetchall()
        return [{"name": n, "planned": planned, "done": done} for n, planned, done in rows]

    # trials ------------------------------------------------------------------------------
    def done_keys(self, keys: list[str]) -> set[str]:
        """Which of `keys` are already stored."""
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(k for (k,) in self.db.execute(f"SELECT key FROM trials WHERE key IN ({marks})", chunk))
        return found

    def record(self, experiment: str, trials: list[dict], links: list[tuple[str, float, int, str]]) -> None:
        """In one transaction: insert `trials` (dicts with TRIAL_COLUMNS) and plan `links`
        (arm, sparsity, seed, trial_key) of `experiment`."""
        now = time.time()
        with self.transaction():
            self.db.executemany(
                f"INSERT OR IGNORE INTO trials ({', '.join(TRIAL_COLUMNS)}, created) "
                f"VALUES ({', '.join('?' * len(TRIAL_COLUMNS))}, ?)",
                [tuple(_encode(t[c]) for c in TRIAL_COLUMNS) + (now,) for t in trials],
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO plan (experiment, arm, sparsity, seed, trial_key) VALUES (?, ?, ?, ?, ?)",
                [(experiment, *link) for link in links],
            )

    def export_rows(self, experiment: str | None = None) -> list[dict]:
        """One row per planned, completed trial (EXPORT_COLUMNS), ordered by experiment,
        sparsity, arm and seed."""
        where, args = ("WHERE p.experiment = ?", (experiment,)) if experiment else ("", ())
        cursor = self.db.execute(
            "SELECT p.experiment, p.arm, t.dataset, p.sparsity, t.node_sparsity, t.weight_sparsity, p.seed, "
            "t.params, t.flops, t.test_acc, t.final_test_acc, t.best_val_acc, t.best_epoch, t.epochs_to_target, "
            "t.train_seconds, t.status, t.key FROM plan p JOIN trials t ON t.key = p.trial_key "
            f"{where} ORDER BY p.experiment, p.sparsity, p.arm, p.seed",
            args,
        )
        return [dict(zip(EXPORT_COLUMNS, row)) for row in cursor]


def _encode(value):
    return json.dumps(value) if isinstance(value, (list, dict)) else value


class _Transaction:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False


def ensure_writable(path: Path) -> None:
    """Raise a one-line error if the store at `path` (or its folder) cannot be written."""
    target = path if path.exists() else path.parent
    if not os.access(target, os.W_OK):
        raise SparsearchError(f"store {path} is not writable; pass a writable --store path")
