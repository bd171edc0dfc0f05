"""The store's tables, its version, and the migrations that bring an older store up to date.

The version lives in SQLite's `user_version`; the file is marked as ours by `application_id`.
A migration is a list of statements run in one transaction with the version bump, so a store
is either wholly at the old version or wholly at the new one.
"""

from __future__ import annotations

import re

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

MIGRATIONS: dict[int, list[str]] = {
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
}

SCHEMA_VERSION = 1 + len(MIGRATIONS)

TABLES = frozenset(
    re.match(r"CREATE TABLE (\w+)", statement).group(1)
    for statement in [*TABLES_V1, *(s for step in MIGRATIONS.values() for s in step)]
    if statement.startswith("CREATE TABLE")
)
"""Every table a store at SCHEMA_VERSION holds."""
