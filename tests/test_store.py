import sqlite3

import pytest

from sparsearch.errors import SparsearchError
from sparsearch.store import Store
from sparsearch.store.sqlite import SCHEMA_VERSION


def trial(key):
    return {
        "key": key, "dataset": "synthetic", "mask": [[0, 1]], "node_sparsity": 0.5, "weight_sparsity": 0.6,
        "params": 10, "flops": 16, "test_acc": 0.9, "final_test_acc": 0.88, "best_val_acc": 0.91, "best_epoch": 2,
        "epochs_to_target": 1, "train_seconds": 0.1, "status": "ok",
        "curves": {"train_loss": [1.0, 0.5], "val_acc": [0.8, 0.91], "test_acc": [0.79, 0.9]}, "spec": {"k": key},
    }


def test_record_and_export_roundtrip(tmp_path):
    store = Store(tmp_path / "s.db")
    store.begin_experiment("e", "x = 1", planned=2)
    store.record("e", [trial("k1")], [("random", 0.5, 0, "k1"), ("random_search", 0.5, 0, "k1")])
    rows = store.export_rows("e")
    assert [(r["arm"], r["trial_key"], r["test_acc"]) for r in rows] == [("random", "k1", 0.9), ("random_search", "k1", 0.9)]
    assert store.done_keys(["k1", "k2"]) == {"k1"}
    assert store.experiments() == [{"name": "e", "planned": 2, "done": 2}]
    store.begin_experiment("e", "x = 2", planned=1)  # a new config forgets the old plan, keeps trials
    assert store.export_rows("e") == [] and store.done_keys(["k1"]) == {"k1"}


def test_a_failed_write_leaves_no_partial_trial(tmp_path):
    store = Store(tmp_path / "s.db")
    store.begin_experiment("e", "", planned=2)
    broken = trial("k2")
    del broken["status"]
    with pytest.raises(KeyError):
        store.record("e", [trial("k1"), broken], [("random", 0.5, 0, "k1")])
    assert store.done_keys(["k1", "k2"]) == set() and store.export_rows("e") == []


@pytest.mark.parametrize("content", [b"hello, not a database\n" * 10, b""])
def test_refuses_files_that_are_not_stores_without_touching_them(tmp_path, content):
    path = tmp_path / "notes.db"
    path.write_bytes(content)
    if content:
        with pytest.raises(SparsearchError, match="is not a sparsearch store"):
            Store(path)
        assert path.read_bytes() == content
    else:
        Store(path).close()  # an empty file is a fresh store


def test_refuses_foreign_sqlite_and_newer_schema(tmp_path):
    foreign = tmp_path / "foreign.db"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    before = foreign.read_bytes()
    with pytest.raises(SparsearchError, match="SQLite file but not a sparsearch store"):
        Store(foreign)
    assert foreign.read_bytes() == before

    newer = tmp_path / "newer.db"
    Store(newer).close()
    db = sqlite3.connect(newer)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(SparsearchError, match="newer sparsearch"):
        Store(newer)


def test_missing_store_for_reading(tmp_path):
    with pytest.raises(SparsearchError, match="no store at"):
        Store(tmp_path / "absent.db", create=False)
    assert not (tmp_path / "absent.db").exists()
