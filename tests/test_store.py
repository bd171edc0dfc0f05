import sqlite3

import pytest
import torch

from sparsearch.errors import SparsearchError
from sparsearch.store import PlanLink, Store, TrialRecord, TrialWeights
from sparsearch.store.schema import SCHEMA_VERSION, TABLES, TABLES_V1
from sparsearch.analysis.export import export_rows


def trial(key, test_acc=0.9, **changes):
    return TrialRecord(**{
        "key": key, "dataset": "synthetic", "mask": [[0, 1]], "node_sparsity": 0.5, "weight_sparsity": 0.6,
        "params": 10, "flops": 16, "test_acc": test_acc, "final_test_acc": 0.88, "best_val_acc": 0.91, "best_epoch": 2,
        "epochs_to_target": 1, "train_seconds": 0.1, "status": "ok",
        "curves": {"train_loss": [1.0, 0.5], "val_acc": [0.8, 0.91], "test_acc": [0.79, 0.9]}, "spec": {"k": key},
        **changes,
    })


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "s.db", write=True)
    yield s
    s.close()


def test_record_and_export_roundtrip(store):
    store.begin_experiment("e", "x = 1", planned=2)
    store.record("e", [trial("k1")], [PlanLink("random", 0.5, 0, "k1"), PlanLink("random_search", 0.5, 0, "k1")])
    rows = export_rows(store, "e")
    assert [(r["arm"], r["trial_key"], r["test_acc"]) for r in rows] == [("random", "k1", 0.9), ("random_search", "k1", 0.9)]
    assert store.done_keys(["k1", "k2"]) == {"k1"}
    assert [(e["name"], e["planned"], e["done"], e["status"]) for e in store.experiments()] == [("e", 2, 2, "complete")]
    store.begin_experiment("e", "x = 2", planned=1)  # a new config forgets the old plan, keeps trials
    assert export_rows(store, "e") == [] and store.done_keys(["k1"]) == {"k1"}
    assert store.experiments()[0]["status"] == "incomplete"


def test_store_is_in_wal_mode(store):
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_failed_write_leaves_no_partial_trial(store):
    store.begin_experiment("e", "", planned=2)
    broken = trial("k2", curves={"train_loss": object()})  # not JSON: fails inside the transaction
    with pytest.raises(TypeError):
        store.record("e", [trial("k1"), broken], [PlanLink("random", 0.5, 0, "k1")])
    assert store.done_keys(["k1", "k2"]) == set() and export_rows(store, "e") == []


def test_weights_roundtrip_as_safetensors(store):
    tensors = {"0.weight": torch.randn(3, 2), "0.bias": torch.randn(3)}
    store.begin_experiment("e", "", planned=1)
    store.record("e", [trial("k1")], [PlanLink("random", 0.5, 0, "k1")], {"k1": TrialWeights(tensors)})
    loaded = store.weights("k1").final
    assert loaded.keys() == tensors.keys() and all(torch.equal(loaded[k], tensors[k]) for k in tensors)
    assert store.db.execute("SELECT format FROM weights").fetchone()[0] == "safetensors"
    with pytest.raises(SparsearchError, match="save_weights = true"):
        store.weights("k2")


def test_remove_deletes_only_trials_no_other_experiment_uses(store):
    store.begin_experiment("a", "", planned=2)
    store.begin_experiment("b", "", planned=1)
    store.record("a", [trial("shared"), trial("own")],
                 [PlanLink("random", 0.5, 0, "shared"), PlanLink("random", 0.5, 1, "own")],
                 {"own": TrialWeights({"w": torch.ones(1)})})
    store.record("b", [], [PlanLink("random", 0.5, 0, "shared")])
    assert store.remove("a") == 1
    assert store.done_keys(["shared", "own"]) == {"shared"}
    assert store.db.execute("SELECT COUNT(*) FROM weights").fetchone()[0] == 0
    assert [e["name"] for e in store.experiments()] == ["b"]
    with pytest.raises(SparsearchError, match="no experiment 'a'.*experiments: b"):
        store.remove("a")


def test_disk_full_is_a_one_line_error_and_keeps_what_was_stored(tmp_path):
    path = tmp_path / "s.db"
    store = Store(path, write=True)
    store.begin_experiment("e", "", planned=2)
    store.record("e", [trial("k1")], [PlanLink("random", 0.5, 0, "k1")])
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow: as if the disk were full
    big = trial("k2", curves={"train_loss": [0.5] * 50_000})
    with pytest.raises(SparsearchError, match="disk full") as info:
        store.record("e", [big], [PlanLink("random", 0.5, 1, "k2")])
    assert "\n" not in str(info.value)
    store.close()
    reopened = Store(path, write=False)
    assert reopened.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert [r["trial_key"] for r in export_rows(reopened, "e")] == ["k1"]
    reopened.close()


@pytest.mark.parametrize("content", [b"hello, not a database\n" * 10, b"SQLite format 3\x00" + b"\x00" * 200])
def test_refuses_files_that_are_not_stores_without_touching_them(tmp_path, content):
    path = tmp_path / "notes.db"
    path.write_bytes(content)
    for write in (True, False):
        with pytest.raises(SparsearchError, match="not a sparsearch store"):
            Store(path, write=write)
    assert path.read_bytes() == content


def test_an_empty_file_becomes_a_fresh_store(tmp_path):
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    Store(path, write=True).close()
    assert Store(path, write=False).experiments() == []


def test_refuses_foreign_sqlite_and_newer_schema(tmp_path):
    foreign = tmp_path / "foreign.db"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    before = foreign.read_bytes()
    with pytest.raises(SparsearchError, match="SQLite file but not a sparsearch store"):
        Store(foreign, write=True)
    assert foreign.read_bytes() == before

    newer = tmp_path / "newer.db"
    Store(newer, write=True).close()
    db = sqlite3.connect(newer)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    before = newer.read_bytes()
    for write in (True, False):
        with pytest.raises(SparsearchError, match="newer sparsearch"):
            Store(newer, write=write)
    assert newer.read_bytes() == before


def test_a_version_1_store_is_migrated_in_place_keeping_its_trials(tmp_path):
    path = tmp_path / "v1.db"
    db = sqlite3.connect(path, isolation_level=None)
    for statement in TABLES_V1:
        db.execute(statement)
    db.execute("PRAGMA application_id = 1397772883")
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO experiments VALUES ('old', 'x = 1', 1, 0, 0)")
    db.execute("INSERT INTO trials VALUES ('k', 'digits', '[]', 0.5, 0.6, 10, 16, 0.9, 0.9, 0.9, 1, 1, 0.1, 'ok', '{}', '{}', 0)")
    db.execute("INSERT INTO plan VALUES ('old', 'random', 0.5, 0, 'k')")
    db.close()
    with pytest.raises(SparsearchError, match="run `sparsearch run` on it once to migrate"):
        Store(path, write=False)
    store = Store(path, write=True)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert [r["trial_key"] for r in export_rows(store, "old")] == ["k"]
    store.record("old", [trial("k2")], [PlanLink("random", 0.5, 1, "k2")], {"k2": TrialWeights({"w": torch.zeros(2)})})
    assert store.weights("k2").final["w"].shape == (2,)
    store.close()


def test_one_writer_at_a_time_and_the_lock_is_released_on_close(tmp_path):
    path = tmp_path / "s.db"
    first = Store(path, write=True)
    with pytest.raises(SparsearchError, match=r"in use by PID \d+"):
        Store(path, write=True)
    reader = Store(path, write=False)  # readers are never blocked
    assert reader.experiments() == []
    reader.close()
    first.close()
    Store(path, write=True).close()


def test_missing_store_for_reading(tmp_path):
    with pytest.raises(SparsearchError, match="no store at"):
        Store(tmp_path / "absent.db", write=False)
    assert not (tmp_path / "absent.db").exists()
    with pytest.raises(SparsearchError, match="folder .* does not exist"):
        Store(tmp_path / "no" / "such.db", write=True)


def test_a_store_killed_while_being_created_is_completed(tmp_path):
    path = tmp_path / "half.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA application_id = 1397772883")  # the first thing a new store writes
    db.close()
    store = Store(path, write=True)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.experiments() == []
    store.close()


def test_export_epochs_to_the_dense_parents_target(store):
    # Seed 0's dense parent: best val 0.91, target 0.95 * 0.91 = 0.8645. Seed 1's: best 0.70,
    # target 0.665. Sparse curves [0.8, 0.86, 0.87] never reach 0.8645... until epoch 3; [0.5, 0.6]
    # never reaches it; [0.6, 0.68] reaches 0.665 at epoch 2. Experiment "solo" has no dense arm.
    store.begin_experiment("e", "x = 1", planned=5)
    curves = lambda val: {"train_loss": [1.0] * len(val), "val_acc": val, "test_acc": val}  # noqa: E731
    store.record("e", [
        trial("d0", best_val_acc=0.91, curves=curves([0.8, 0.91])),
        trial("d1", best_val_acc=0.70, curves=curves([0.7, 0.6])),
        trial("s0", curves=curves([0.8, 0.86, 0.87])), trial("n0", curves=curves([0.5, 0.6])),
        trial("s1", curves=curves([0.6, 0.68])),
    ], [PlanLink("dense", 0.0, 0, "d0"), PlanLink("dense", 0.0, 1, "d1"), PlanLink("random", 0.5, 0, "s0"),
        PlanLink("snip", 0.5, 0, "n0"), PlanLink("random", 0.5, 1, "s1")])
    rows = export_rows(store, "e")
    assert [(r["arm"], r["seed"], r["epochs_to_dense_target"]) for r in rows] == [
        ("dense", 0, 2), ("dense", 1, 1), ("random", 0, 3), ("random", 1, 2), ("snip", 0, "never")]
    assert [r["epochs_to_target"] for r in rows] == [1] * 5  # the relative measure is unchanged
    store.begin_experiment("solo", "x = 1", planned=1)
    store.record("solo", [], [PlanLink("random", 0.5, 0, "s0")])
    assert [r["epochs_to_dense_target"] for r in export_rows(store, "solo")] == [None]


def test_a_new_store_is_created_at_the_latest_schema_with_no_freed_pages(tmp_path):
    store = Store(tmp_path / "s.db", write=True)
    tables = {row[0] for row in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == TABLES == {"experiments", "trials", "plan", "weights", "artifacts", "failures", "records",
                                "shared_records"}
    assert store.db.execute("PRAGMA freelist_count").fetchone()[0] == 0  # no table created only to be dropped
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    store.close()
