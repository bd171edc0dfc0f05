"""Bad stores and bad reruns (issue 29, items 5, 7 and 11), each refused in one line by the real
command in a child under a memory limit, leaving the store's bytes and export unchanged
(tests/refusal.py): damaged pages, unknown or empty experiment names, `rm` with no terminal to
confirm on, and a config that would change a stored experiment's plan."""

import sqlite3
from pathlib import Path

import pytest

from conftest import toml
from refusal import refused

PAGE_GARBAGE = bytes(range(256)) * 16


def _damage(table: str | None):
    """A `prepare` that overwrites one page inside the file with garbage: the root b-tree page
    of `table`, or (None) the page in the middle of the file."""

    def prepare(store: Path) -> None:
        db = sqlite3.connect(store)
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        root = pages // 2 + 1 if table is None else \
            db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        db.close()
        assert 1 < root <= pages
        with open(store, "r+b") as handle:
            handle.seek((root - 1) * page_size)
            handle.write(PAGE_GARBAGE[:page_size].ljust(page_size, b"\x5a"))

    return prepare


def run_with(*flags, **changes):
    return {"files": {"c.toml": toml(**changes)}, "args": ["run", "c.toml", "--store", "{store}", "--quiet", *flags]}


READERS = {
    "ls": ["ls", "--store", "{store}"],
    "export": ["export", "--store", "{store}"],
    "show": ["show", "tiny", "--store", "{store}"],
    "report": ["report", "--store", "{store}", "--out", "r"],
    "run": ["run", "c.toml", "--store", "{store}", "--quiet"],
}

DAMAGED = {
    **{f"trials page, {name}": (_damage("trials"), args) for name, args in READERS.items()},
    **{f"plan page, {name}": (_damage("plan"), args) for name, args in READERS.items() if name != "report"},
    "middle page, ls": (_damage(None), READERS["ls"]),
    "middle page, export": (_damage(None), READERS["export"]),
}


@pytest.mark.parametrize("prepare, args", DAMAGED.values(), ids=DAMAGED.keys())
def test_a_damaged_page_is_named_in_one_line(prepare, args, tmp_path, finished_store):
    line = refused(args, tmp_path, finished_store, files={"c.toml": toml()}, prepare=prepare)
    assert "is damaged" in line and "restore it from a copy" in line and "s.db" in line


CASES = {
    "export of an unknown experiment": (
        {"args": ["export", "--store", "{store}", "--experiment", "nope"]}, "no experiment 'nope'"),
    "export --experiment ''": ({"args": ["export", "--store", "{store}", "--experiment", ""]}, "--experiment ''"),
    "export --experiment ' '": ({"args": ["export", "--store", "{store}", "--experiment", " "]}, "--experiment ' '"),
    "rm without --yes and no terminal": ({"args": ["rm", "tiny", "--store", "{store}"]}, "pass --yes"),
    "rm of an unknown experiment": ({"args": ["rm", "nope", "--store", "{store}"]}, "no experiment 'nope'"),
    "rerun with more epochs": (run_with(train={"epochs": 3}), "train.epochs 2 -> 3"),
    "rerun with other sparsities": (run_with(search={"sparsities": [0.75]}), "search.sparsities [0.5] -> [0.75]"),
    "rerun with another arm": (run_with(search={"arms": ["dense", "snip"]}), "search.arms"),
    "rerun with more seeds": (run_with(experiment={"seeds": 3}), "experiment.seeds 2 -> 3"),
    "rerun with another data split": (run_with(data={"seed": 1}), "data.seed 0 -> 1"),
    "rerun with adam": (run_with(train={"optimizer": "adam"}), "train.optimizer 'sgd' -> 'adam'"),
    "rerun with a wider parent": (run_with(parent={"hidden": [32]}), "parent.hidden [16] -> [32]"),
    "rerun with another result and a result-free change": (
        run_with(train={"lr": 0.1}, engine={"threads": 1}), "train.lr 0.05 -> 0.1"),
    "--replace with a conv mask that empties a layer": (
        run_with("--replace", data={"name": "digits", "samples": None}, parent={"kind": "lenet5", "hidden": None},
                 search={"sparsities": [0.95]}), "0.95"),
}


@pytest.mark.parametrize("case, fragment", CASES.values(), ids=CASES.keys())
def test_a_bad_rerun_or_name_is_one_line_and_the_store_is_unchanged(case, fragment, tmp_path, finished_store):
    line = refused(case["args"], tmp_path, finished_store, files=case.get("files"))
    assert fragment in line, line


def test_the_store_cases_number_at_least_eighteen():
    assert len(DAMAGED) + len(CASES) >= 18
