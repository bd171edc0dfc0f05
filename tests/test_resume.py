"""Crash safety, resumption, determinism and concurrency of `sparsearch run` on one store."""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from operator import itemgetter
from pathlib import Path

import pytest
import tomli_w
import torch
from torch import nn

from sparsearch.config import config_from_dict
from sparsearch.data import load_dataset
from sparsearch.api import run
from sparsearch.store import Store
from sparsearch.store.sqlite import FAULT_PAUSE
from sparsearch.analysis.export import export_rows
from conftest import without_timings as comparable

CONFIG = {
    "experiment": {"name": "resume", "seeds": 3},
    "data": {"name": "synthetic", "samples": 400},
    "parent": {"hidden": [32, 16]},
    "train": {"epochs": 12, "batch_size": 32},
    "search": {"sparsities": [0.5, 0.75]},
    "arms": {"random_search": {"candidates": 6}},
    "engine": {"max_population": 2},
}
SLOW = {**CONFIG, "experiment": {"name": "resume", "seeds": 6}, "train": {"epochs": 150, "batch_size": 32}}
"""For the subprocess tests: 15 populations of about 0.4 s each, so kills land mid-run."""
SLOW_NETWORKS = 6 + 2 * 2 * 6


def write_config(tmp_path, raw=SLOW):
    path = tmp_path / "c.toml"
    path.write_text(tomli_w.dumps(raw))
    return path


def run_in_memory(raw):
    config = config_from_dict(raw)
    store = Store(":memory:", write=True)
    result = run(config, store=store, data=load_dataset(config.data)).outcome
    store.close()
    return result


def command(config_path, store_path):
    script = Path(sys.executable).with_name("sparsearch")
    exe = [str(script)] if script.exists() else [sys.executable, "-m", "sparsearch"]
    return [*exe, "run", str(config_path), "--store", str(store_path), "--quiet"]


def environment(**extra):
    return {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src"), **extra}


def export(store_path):
    store = Store(store_path, write=False)
    rows = export_rows(store, "resume")
    store.close()
    return rows


def trial_count(store_path):
    """Trials committed so far (0 before the store exists), read as a concurrent reader."""
    if not store_path.exists():
        return 0
    with sqlite3.connect(f"{store_path.as_uri()}?mode=ro", uri=True) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
        except sqlite3.OperationalError:  # killed before its tables existed
            return 0


def test_population_chunk_size_does_not_change_any_recorded_number():
    one = run_in_memory({**CONFIG, "engine": {"max_population": 1}})
    many = run_in_memory({**CONFIG, "engine": {"max_population": 64}})
    assert one.trained == many.trained == 3 + 2 * 2 * 3
    assert comparable(one.rows) == comparable(many.rows)


def test_changing_the_config_reuses_every_unchanged_trial(tmp_path):
    config = config_from_dict(CONFIG)
    data = load_dataset(config.data)
    store = Store(tmp_path / "s.db", write=True)
    first = run(config, store=store, data=data).outcome
    wider = config_from_dict({**CONFIG, "search": {"sparsities": [0.5, 0.75, 0.9]}})
    second = run(wider, store=store, data=data, replace=True).outcome
    assert (second.trained, second.reused) == (2 * 3, len(first.rows))
    slot = itemgetter("arm", "sparsity", "seed")
    kept = [r for r in second.rows if r["sparsity"] != 0.9]  # same experiment, now with 0.9 added
    assert sorted(kept, key=slot) == sorted(first.rows, key=slot)  # every old row, wall time included
    retrained = run(config_from_dict({**CONFIG, "train": {"epochs": 13, "batch_size": 32}}), store=store, data=data,
                    replace=True).outcome
    assert retrained.reused == 0  # the recipe is part of every trial's key
    store.close()


def test_saved_weights_load_into_nn_sequential_and_reproduce_the_test_accuracy(tmp_path):
    raw = {**CONFIG, "search": {"sparsities": [0.5], "arms": ["random"]}, "store": {"save_weights": True}}
    config = config_from_dict(raw)
    data = load_dataset(config.data)
    store = Store(tmp_path / "s.db", write=True)
    without = run(config_from_dict({**raw, "store": {"save_weights": False}}), store=store, data=data).outcome
    assert store.keys_with_weights([r["trial_key"] for r in without.rows]) == set()
    result = run(config, store=store, data=data).outcome  # retrains, bitwise identically, to get the weights
    assert result.trained == 3 and comparable(result.rows) == comparable(without.rows)
    row = result.rows[0]
    state = store.weights(row["trial_key"]).final
    model = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 4))
    model.load_state_dict(state)
    with torch.no_grad():
        final_acc = (model(data.x_test).argmax(1) == data.y_test).float().mean().item()
    assert final_acc == pytest.approx(row["final_test_acc"], abs=1e-6)
    store.close()


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_gives_the_uninterrupted_export(tmp_path):
    config_path = write_config(tmp_path)
    reference = tmp_path / "reference.db"
    subprocess.run(command(config_path, reference), env=environment(), check=True, capture_output=True)
    expected = export(reference)
    assert len(expected) == SLOW_NETWORKS

    store_path = tmp_path / "killed.db"
    marker = tmp_path / "in-write"
    rng = random.Random(1234)
    kills = mid_write = 0
    progress = []
    for attempt in range(8):
        marker.unlink(missing_ok=True)
        if attempt % 2 == 0:
            # Fault injection: the 2nd population write of this process pauses inside its open
            # transaction; kill it there, mid-write.
            proc = subprocess.Popen(command(config_path, store_path), env=environment(**{FAULT_PAUSE: f"{marker}:2"}),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            while not marker.exists() and proc.poll() is None:  # an event, however slow the machine
                time.sleep(0.01)
            mid_write += marker.exists()
        else:
            # Kill at a random moment once this process is training and writing populations.
            before = trial_count(store_path)
            proc = subprocess.Popen(command(config_path, store_path), env=environment(),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            while trial_count(store_path) == before and proc.poll() is None:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.6))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        with sqlite3.connect(store_path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        progress.append(trial_count(store_path))
    assert kills >= 5 and mid_write >= 3
    # Never loses committed trials. The first kill is inside the run's second population write,
    # so every later run resumed a partial store; the random kills may land after a run has
    # finished (a busy or fast machine), so how far the last one got is not asserted.
    assert progress == sorted(progress) and progress[0] < SLOW_NETWORKS

    final = subprocess.run(command(config_path, store_path), env=environment(), capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    rows = export(store_path)
    assert comparable(rows) == comparable(expected)
    with sqlite3.connect(store_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        keys = [k for (k,) in db.execute("SELECT trial_key FROM plan WHERE experiment = 'resume'")]
        assert len(keys) == len(expected)
        assert db.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM trials").fetchone() == (len(set(keys)),) * 2


@pytest.mark.slow
def test_a_second_run_on_a_busy_store_exits_at_once_and_nothing_is_corrupted(tmp_path):
    config_path = write_config(tmp_path)
    store_path = tmp_path / "shared.db"
    marker = tmp_path / "in-write"
    # The first run holds the store and pauses mid-write; the second starts meanwhile.
    first = subprocess.Popen(command(config_path, store_path), env=environment(**{FAULT_PAUSE: f"{marker}:1"}),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while not marker.exists() and first.poll() is None:  # the writer pauses until it is killed
            time.sleep(0.01)
        assert marker.exists(), first.stderr.read().decode()
        second = subprocess.run(command(config_path, store_path), env=environment(), capture_output=True, text=True)
    finally:
        first.send_signal(signal.SIGKILL)  # the paused writer never commits its population
        first.wait()
    assert second.returncode == 2
    assert f"in use by PID {first.pid}" in second.stderr and second.stderr.strip().count("\n") == 0
    both = [subprocess.Popen(command(config_path, store_path), env=environment(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [(p.wait(), p.stderr.read()) for p in both]
    assert any(code == 0 for code, _ in outcomes)
    for code, stderr in outcomes:
        assert code == 0 or (code == 2 and "in use by PID" in stderr)
    if any(code == 2 for code, _ in outcomes):  # the loser reruns once the winner is done
        subprocess.run(command(config_path, store_path), env=environment(), check=True, capture_output=True)
    with sqlite3.connect(store_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert len(export(store_path)) == SLOW_NETWORKS
    assert json.dumps(comparable(export(store_path))) == json.dumps(comparable(run_in_memory(SLOW).rows))
