"""A store written by the previous release (sparsearch 0.2.0, store schema 6, before issue 22's
redesign) migrates in place to the generic core, its numbers exact, and rerunning its
experiments reuses every stored trial and super-network: nothing is retrained and every
exported number of a mask study stays as stored, the rerun adding only the search costs 0.2.0
did not record; a super-network search runs its searches again on the stored super-networks
(searches evaluate the largest and smallest sub-network first since issue 25)
(tests/data/make_release_store.py made it)."""

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

import sparsearch
from data.make_release_store import CONFIGS, config, data

RELEASE_STORE = Path(__file__).parent / "data" / "release-0.2.0.db"


@pytest.fixture
def store(tmp_path) -> Path:
    copy = tmp_path / "release.db"
    shutil.copyfile(RELEASE_STORE, copy)
    return copy


SEARCH_COLUMNS = ["search_cost", "search_seconds"]
"""Recorded from issue 23 on: a 0.2.0 store has none, a rerun records them (nothing else changes)."""


def _tables(store: Path, name: str) -> dict:
    study = sparsearch.Study(store, name)
    return {table: study.table(table).drop(columns=["train_seconds", *SEARCH_COLUMNS], errors="ignore")
            .to_dict("records") for table in study.kind.tables}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_a_release_store_is_reused_not_retrained(store, name):
    sparsearch.Store(store, write=True).close()  # migrates it
    before = _tables(store, name)
    rerun = config(name)
    if "supernet" in rerun:  # 0.2.0 trained with equal loss weights; the default since weighs the largest more
        rerun["supernet"] = {**rerun["supernet"], "largest_weight": 1}
    supernet = CONFIGS[name].get("experiment", {}).get("kind") == "supernet"
    if supernet:
        from sparsearch.supernet import records

        with sparsearch.Store(store, write=False) as db:
            trained = sorted(s["rounds"]["supernet"] for s in records.searches(db, name))
    outcome = sparsearch.run(rerun, store=store, data=data()).outcome
    if supernet:
        # the searches run again (every search now evaluates the largest and smallest sub-network
        # first: their keys changed) on the stored super-networks, which keep their keys
        assert (outcome.searched, outcome.reused) == (2, 0)
        with sparsearch.Store(store, write=False) as db:
            assert sorted(s["rounds"]["supernet"] for s in records.searches(db, name)) == trained
        return
    assert (outcome.trained, outcome.failed, outcome.pretrained) == (0, 0, 0)
    assert outcome.reused == len(outcome.rows) > 0
    assert _tables(store, name) == before
    assert next(iter(before.values())), "the main table is empty"
    if "trials" in before:  # the rerun recorded what choosing each mask spent, in epochs (the 0.2.0 trainings' seconds are unknown)
        trials = sparsearch.Study(store, name).trials()
        assert trials.search_cost.notna().all() and (trials[trials.arm == "random"].search_cost == 0).all()


def _old(query: str) -> list[tuple]:
    with sqlite3.connect(f"{RELEASE_STORE.resolve().as_uri()}?mode=ro", uri=True) as db:
        return db.execute(query).fetchall()


def test_the_migration_moves_every_number_exactly(store):
    sparsearch.Store(store, write=True).close()
    evaluations = _old("SELECT strategy, seed, idx, config, widths, val_acc, val_loss, params, flops, latency "
                       "FROM evaluations ORDER BY strategy, seed, idx")
    moved = sparsearch.Study(store, "elastic").evaluations()
    assert len(evaluations) == len(moved) > 0
    for old, (_, new) in zip(evaluations, moved.iterrows()):
        assert old == (new.strategy, new.seed, new.idx, json.dumps(new.config), json.dumps(new.widths), new.val_acc,
                       new.val_loss, new.params, new.flops, None if new.latency != new.latency else new.latency)
    with sparsearch.Store.open(store) as db:
        from sparsearch.supernet import records

        assert [(s["strategy"], s["seed"], json.dumps(s["rounds"])) for s in records.searches(db, "elastic")] == \
            [(st, seed, rounds) for st, seed, rounds in _old("SELECT strategy, seed, rounds FROM searches ORDER BY "
                                                            "strategy, seed")]
        for key, weights in _old("SELECT key, weights FROM supernets"):
            assert db.db.execute("SELECT tensors FROM artifacts WHERE key = ?", (key,)).fetchone()[0] == weights
        assert [e["done"] for e in db.experiments()] == [4, 6, 2]
        assert db.db.execute("PRAGMA user_version").fetchone()[0] == 7


def test_its_supernet_experiment_ran_with_equal_loss_weights_and_the_new_default_is_a_change(store):
    sparsearch.Store(store, write=True).close()
    assert sparsearch.Study(store, "elastic").config.supernet.largest_weight == 1
    with pytest.raises(sparsearch.SparsearchError, match=r"supernet\.largest_weight 1\.0 -> 'students'"):
        sparsearch.run(config("elastic"), store=store, data=data())
