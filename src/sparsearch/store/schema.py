"""The store's tables, its version, and the migrations that bring an older store up to date.

The version lives in SQLite's `user_version`; the file is marked as ours by `application_id`.
A migration is a list of statements (or functions of the connection, for data that moves) run in
one transaction with the version bump, so a store is either wholly at the old version or wholly
at the new one.
"""

from __future__ import annotations

import json
import re
import time

APPLICATION_ID = 0x53505253  # "SPRS"

TABLES_V1 = [
    """CREATE TABLE experiments (
        name TEXT PRIMARY KEY,
        config TEXT NOT NULL,
        planned INTEGER NOT NULL,
        created REAL NOT NULL,
        updated REAL NOT NULL
    )""",
    """CREATE TABLE trials (
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
    )""",
    """CREATE TABLE plan (
        experiment TEXT NOT NULL REFERENCES experiments(name) ON DELETE CASCADE,
        arm TEXT NOT NULL,
        sparsity REAL NOT NULL,
        seed INTEGER NOT NULL,
        trial_key TEXT NOT NULL REFERENCES trials(key),
        PRIMARY KEY (experiment, arm, sparsity, seed)
    )""",
]

def move_records(db) -> None:
    """Schema 6 -> 7's data step: every row of the six kind-specific tables into records and
    artifacts, values as JSON (Python's float repr: exact)."""

    now = time.time()

    def put(experiment, type_, key, value, unit=0, artifact=None):
        db.execute("INSERT INTO records (experiment, type, key, value, unit, artifact, created) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)", (experiment, type_, key, json.dumps(value), unit, artifact, now))

    audit_columns = ("probe", "n", "kendall_val", "spearman_val", "kendall_test", "spearman_test", "regret_val",
                     "regret_test", "scores", "val_acc", "test_acc")
    for experiment, arm, sparsity, seed, *values in db.execute(
            f"SELECT experiment, arm, sparsity, seed, {', '.join(audit_columns)} FROM audits").fetchall():
        value = dict(zip(audit_columns, values))
        for column in ("scores", "val_acc", "test_acc"):
            value[column] = json.loads(value[column])
        put(experiment, "audit", record_key(arm, sparsity, seed), {"arm": arm, "sparsity": sparsity, "seed": seed, **value})
    evaluation_columns = ("config", "widths", "val_acc", "val_loss", "params", "flops", "latency")
    for experiment, strategy, seed, key, rounds in db.execute(
            "SELECT experiment, strategy, seed, key, rounds FROM searches").fetchall():
        evaluations = []
        for row in db.execute(f"SELECT {', '.join(evaluation_columns)} FROM evaluations WHERE experiment = ? AND "
                              f"strategy = ? AND seed = ? ORDER BY idx", (experiment, strategy, seed)).fetchall():
            evaluations.append(dict(zip(evaluation_columns, row)) | {"config": json.loads(row[0]),
                                                                     "widths": json.loads(row[1])})
        rounds = json.loads(rounds)
        put(experiment, "search", record_key(strategy, seed),
            {"strategy": strategy, "seed": seed, "key": key, "rounds": rounds, "evaluations": evaluations},
            unit=1, artifact=rounds.get("supernet"))
    retrained: dict = {}
    for experiment, seed, config, inherited, again in db.execute(
            "SELECT experiment, seed, config, inherited_acc, retrained_acc FROM retrained ORDER BY experiment, seed, "
            "config").fetchall():
        retrained.setdefault((experiment, seed), []).append(
            {"seed": seed, "config": json.loads(config), "inherited_acc": inherited, "retrained_acc": again})
    for (experiment, seed), rows in retrained.items():
        put(experiment, "retrained", record_key(seed), rows)
    for key, weights, curves in db.execute("SELECT key, weights, curves FROM supernets").fetchall():
        db.execute("INSERT OR REPLACE INTO artifacts (key, tensors, created) VALUES (?, ?, ?)", (key, weights, now))
        db.execute("INSERT INTO shared_records (type, key, value, created) VALUES ('supernet', ?, ?, ?)",
                   (key, curves, now))
    for fan_in, fan_out, batch, relu, threads, seconds in db.execute(
            "SELECT fan_in, fan_out, batch, relu, threads, seconds FROM latency").fetchall():
        db.execute("INSERT INTO shared_records (type, key, value, created) VALUES ('latency', ?, ?, ?)",
                   (record_key(fan_in, fan_out, batch, bool(relu), threads), json.dumps(seconds), now))


def record_key(*fields) -> str:
    """A record's key: the JSON of the fields that identify it (e.g. strategy and seed)."""
    return json.dumps(list(fields))


MIGRATIONS: dict[int, list] = {
    # version 1 -> 2: final weights of trials, as safetensors bytes, on request
    1: [
        """CREATE TABLE weights (
            trial_key TEXT PRIMARY KEY REFERENCES trials(key) ON DELETE CASCADE,
            format TEXT NOT NULL,
            data BLOB NOT NULL
        )""",
        "CREATE INDEX plan_trial ON plan (trial_key)",
    ],
    # version 2 -> 3: super-network search (elastic space)
    2: [
        """CREATE TABLE supernets (
            key TEXT PRIMARY KEY,
            weights BLOB NOT NULL,
            curves TEXT NOT NULL
        )""",
        """CREATE TABLE searches (
            experiment TEXT NOT NULL REFERENCES experiments(name) ON DELETE CASCADE,
            strategy TEXT NOT NULL,
            seed INTEGER NOT NULL,
            key TEXT NOT NULL,
            rounds TEXT NOT NULL,
            PRIMARY KEY (experiment, strategy, seed)
        )""",
        """CREATE TABLE evaluations (
            experiment TEXT NOT NULL,
            strategy TEXT NOT NULL,
            seed INTEGER NOT NULL,
            idx INTEGER NOT NULL,
            config TEXT NOT NULL,
            widths TEXT NOT NULL,
            val_acc REAL NOT NULL,
            val_loss REAL,
            params INTEGER NOT NULL,
            flops INTEGER NOT NULL,
            latency REAL,
            PRIMARY KEY (experiment, strategy, seed, idx),
            FOREIGN KEY (experiment, strategy, seed) REFERENCES searches(experiment, strategy, seed) ON DELETE CASCADE
        )""",
        """CREATE TABLE latency (
            fan_in INTEGER NOT NULL,
            fan_out INTEGER NOT NULL,
            batch INTEGER NOT NULL,
            relu INTEGER NOT NULL,
            threads INTEGER NOT NULL,
            seconds REAL NOT NULL,
            PRIMARY KEY (fan_in, fan_out, batch, relu, threads)
        )""",
        """CREATE TABLE retrained (
            experiment TEXT NOT NULL REFERENCES experiments(name) ON DELETE CASCADE,
            seed INTEGER NOT NULL,
            config TEXT NOT NULL,
            inherited_acc REAL NOT NULL,
            retrained_acc REAL NOT NULL,
            PRIMARY KEY (experiment, seed, config)
        )""",
    ],
    # version 3 -> 4: trainings arms need before they plan (trained parents, lottery rounds),
    # keyed by a hash of their inputs, as safetensors bytes
    3: [
        """CREATE TABLE artifacts (
            key TEXT PRIMARY KEY,
            tensors BLOB NOT NULL,
            created REAL NOT NULL
        )""",
    ],
    # version 4 -> 5: probe audits (random_search with audit = N)
    4: [
        """CREATE TABLE audits (
            experiment TEXT NOT NULL REFERENCES experiments(name) ON DELETE CASCADE,
            arm TEXT NOT NULL,
            sparsity REAL NOT NULL,
            seed INTEGER NOT NULL,
            probe TEXT NOT NULL,
            n INTEGER NOT NULL,
            kendall_val REAL,
            spearman_val REAL,
            kendall_test REAL,
            spearman_test REAL,
            regret_val REAL NOT NULL,
            regret_test REAL NOT NULL,
            scores TEXT NOT NULL,
            val_acc TEXT NOT NULL,
            test_acc TEXT NOT NULL,
            PRIMARY KEY (experiment, arm, sparsity, seed)
        )""",
    ],
    # version 5 -> 6: trials whose training failed in the last run (a Ray task whose worker died
    # more often than its retries allow), with the reason; a rerun retries them
    5: [
        """CREATE TABLE failures (
            experiment TEXT NOT NULL REFERENCES experiments(name) ON DELETE CASCADE,
            arm TEXT NOT NULL,
            sparsity REAL NOT NULL,
            seed INTEGER NOT NULL,
            trial_key TEXT NOT NULL,
            reason TEXT NOT NULL,
            created REAL NOT NULL,
            PRIMARY KEY (experiment, arm, sparsity, seed)
        )""",
    ],
    # version 6 -> 7: the generic core. Records a kind or an arm declares (searches and their
    # evaluations, retrained fronts, probe audits) become typed JSON records of an experiment;
    # super-network weights become artifacts and their curves, like the latency cache, shared
    # records; the six tables that held them go (moved row by row, numbers exact: move_records).
    6: [
        """CREATE TABLE records (
            experiment TEXT NOT NULL REFERENCES experiments(name) ON DELETE CASCADE,
            type TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            unit INTEGER NOT NULL,
            artifact TEXT,
            created REAL NOT NULL,
            PRIMARY KEY (experiment, type, key)
        )""",
        "CREATE INDEX records_artifact ON records (artifact)",
        """CREATE TABLE shared_records (
            type TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            created REAL NOT NULL,
            PRIMARY KEY (type, key)
        )""",
        move_records,
        *(f"DROP TABLE {table}" for table in ("evaluations", "searches", "retrained", "audits", "latency", "supernets")),
    ],
}

SCHEMA_VERSION = 1 + len(MIGRATIONS)

_STATEMENTS = [*TABLES_V1, *(s for step in MIGRATIONS.values() for s in step if isinstance(s, str))]
TABLES = frozenset(
    re.match(r"CREATE TABLE (\w+)", s).group(1) for s in _STATEMENTS if s.startswith("CREATE TABLE")
) - {re.match(r"DROP TABLE (\w+)", s).group(1) for s in _STATEMENTS if s.startswith("DROP TABLE")}
"""Every table a store at SCHEMA_VERSION holds."""


def _table_of(statement: str) -> str | None:
    found = re.match(r"CREATE (?:TABLE (\w+)|INDEX \w+ ON (\w+))", statement)
    return None if found is None else found.group(1) or found.group(2)


FRESH = [s for s in _STATEMENTS if _table_of(s) in TABLES]
"""What creates a new store at SCHEMA_VERSION: every table and index it holds, none it would
later drop (so no freed pages sit in a new file)."""
