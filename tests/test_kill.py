"""SIGKILL `sparsearch run` at random moments, rerun it, and get the export of a run never
interrupted (issue 29): a conv parent in the weight space with the lottery arm (trained parents
and pruning rounds kept as they finish) and a super-network search (super-networks, searches and
retrained fronts). Each kill moment is an event, never a sleep: the child is killed as soon as
the store holds a randomly chosen number of finished pieces of work, read as a concurrent reader."""

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomli_w

from sparsearch.store import Store
from sparsearch.analysis.export import export_rows
from sparsearch.supernet import records
from conftest import without_timings

LENET_LOTTERY = {
    "experiment": {"name": "kill", "seeds": 2},
    "data": {"name": "digits"},
    "parent": {"kind": "lenet5"},
    "train": {"epochs": 2},
    "search": {"space": "weight", "sparsities": [0.5, 0.75], "arms": ["dense", "random", "lottery"]},
    "arms": {"lottery": {"prune_rate": 0.5}},
    "engine": {"max_population": 1},
}
LENET_WORK = "SELECT (SELECT COUNT(*) FROM artifacts) + (SELECT COUNT(*) FROM trials)"

SUPERNET = {
    "experiment": {"name": "kill", "seeds": 2, "kind": "supernet"},
    "data": {"name": "synthetic", "samples": 300},
    "parent": {"hidden": [16, 16]},
    "train": {"epochs": 3, "batch_size": 32},
    "supernet": {"epochs": 4, "widths": [0.25, 0.5, 1.0], "strategies": ["random", "nsga2"], "evaluations": 6,
                 "search_population": 3, "retrain": 2},
}
SUPERNET_WORK = ("SELECT (SELECT COUNT(*) FROM shared_records WHERE type = 'supernet') + "
                 "(SELECT COUNT(*) FROM records WHERE type IN ('search', 'retrained'))")

KILLS = 4


def _command(config: Path, store: Path) -> list[str]:
    return [sys.executable, "-m", "sparsearch", "run", str(config), "--store", str(store), "--quiet"]


def _work(store: Path, query: str) -> int:
    """Finished pieces of work committed so far (0 before the store has its tables)."""
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True) as db:
            return db.execute(query).fetchone()[0]
    except sqlite3.OperationalError:  # not created yet, or being created
        return 0


def _mask_export(store: Path) -> list[dict]:
    with Store.open(store) as db:
        return without_timings(export_rows(db, "kill"))


def _supernet_export(store: Path) -> tuple:
    with Store.open(store) as db:
        return records.evaluation_rows(db, "kill"), records.retrained(db, "kill")


def _killed_then_resumed(tmp_path: Path, raw: dict, query: str, exported) -> None:
    config = tmp_path / "c.toml"
    config.write_text(tomli_w.dumps(raw))
    reference = tmp_path / "reference.db"
    subprocess.run(_command(config, reference), check=True, capture_output=True)
    total = _work(reference, query)
    store = tmp_path / "killed.db"
    moments = sorted(random.Random(29).sample(range(1, total), min(KILLS, total - 1)))
    kills = 0
    for moment in moments:
        child = subprocess.Popen(_command(config, store), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while _work(store, query) < moment and child.poll() is None:  # an event, however slow the machine
            time.sleep(0.005)
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            kills += 1
        assert child.wait() in (0, -signal.SIGKILL), child.stderr.read().decode()[-2000:]
        with sqlite3.connect(store) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert kills >= 1
    resumed = subprocess.run(_command(config, store), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert _work(store, query) == total  # nothing trained twice beside what it had
    assert exported(store) == exported(reference)


@pytest.mark.slow
def test_a_lenet5_lottery_run_killed_at_random_moments_resumes_to_the_same_export(tmp_path):
    _killed_then_resumed(tmp_path, LENET_LOTTERY, LENET_WORK, _mask_export)


@pytest.mark.slow
def test_a_supernet_run_killed_at_random_moments_resumes_to_the_same_export(tmp_path):
    _killed_then_resumed(tmp_path, SUPERNET, SUPERNET_WORK, _supernet_export)
