"""A store written by the previous release (sparsearch 0.2.0, before issue 22's redesign) opens,
and rerunning its experiments reuses every stored trial, training and search: nothing is
retrained and every exported number stays as stored (tests/data/make_release_store.py made it)."""

import shutil
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


def _tables(store: Path, name: str) -> dict:
    study = sparsearch.Study(store, name)
    return {table: study.table(table).drop(columns=["train_seconds"], errors="ignore").to_dict("records")
            for table in study.kind.tables}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_a_release_store_is_reused_not_retrained(store, name):
    before = _tables(store, name)
    outcome = sparsearch.run(config(name), store=store, data=data()).outcome
    if CONFIGS[name].get("experiment", {}).get("kind") == "supernet":
        assert (outcome.searched, outcome.reused) == (0, 2)
    else:
        assert (outcome.trained, outcome.failed, outcome.pretrained) == (0, 0, 0)
        assert outcome.reused == len(outcome.rows) > 0
    assert _tables(store, name) == before
    assert next(iter(before.values())), "the main table is empty"
