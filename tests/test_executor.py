"""Executors change where chunks train, never what is stored: chunks finishing in any order give
the in-process export; a failed chunk records its population's trials as failures (never drops
them) and a rerun completes them; asking for Ray without it is one line before any store exists."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w

from sparsearch.config import Config, config_from_dict, with_engine
from sparsearch.data import load_dataset
from sparsearch.engine.executor import IN_PROCESS, TaskFailure
from sparsearch.extras import install_hint
from sparsearch.errors import SparsearchError
from sparsearch.mask.study import run_mask_study
from sparsearch.store import Store
from conftest import without_timings as comparable

RAW = {
    "experiment": {"name": "executors", "seeds": 3},
    "data": {"name": "synthetic", "samples": 400},
    "parent": {"hidden": [32, 16]},
    "train": {"epochs": 3, "batch_size": 32},
    "search": {"sparsities": [0.5, 0.75]},
    "arms": {"random_search": {"candidates": 4}},
    "engine": {"max_population": 2, "max_memory_gb": 5e-5},  # every network a chunk of its own
}
PLANNED = 3 + 2 * 2 * 3


class LastFirst:
    """Trains every chunk here but reports them last-first, as a cluster may."""

    def run(self, train, setting, chunks, on_epoch=None):
        results = [(index, train(setting, chunk, None)) for index, chunk in enumerate(chunks)]
        yield from reversed(results)


class LosesChunk:
    """Loses the chunk at `lost` (its worker died past its retries); trains the others here."""

    def __init__(self, lost: int):
        self.lost = lost

    def run(self, train, setting, chunks, on_epoch=None):
        for index, chunk in enumerate(chunks):
            yield index, TaskFailure("WorkerCrashedError after 3 retries: lost") if index == self.lost else train(
                setting, chunk, on_epoch)


def run_with(executor=IN_PROCESS):
    config = config_from_dict(RAW)
    store = Store(":memory:", write=True)
    return store, run_mask_study(config, load_dataset(config.data), store, executor=executor)


@pytest.fixture(scope="module")
def reference():
    store, outcome = run_with()
    assert len(outcome.rows) == PLANNED and outcome.failed == 0
    return comparable(outcome.rows)


def test_chunks_finishing_in_any_order_give_the_in_process_export(reference):
    _, outcome = run_with(LastFirst())
    assert comparable(outcome.rows) == reference


def test_a_lost_chunk_records_its_population_as_failed_and_a_rerun_completes_it(reference):
    store, outcome = run_with(LosesChunk(lost=1))  # the second network of the first population
    failures = store.failures("executors")
    assert outcome.failed == 2 == len(failures)  # both networks of that population, none dropped
    assert len(outcome.rows) + len(failures) == PLANNED
    assert {f["reason"] for f in failures} == {"WorkerCrashedError after 3 retries: lost"}
    stored = {(r["arm"], r["sparsity"], r["seed"]) for r in outcome.rows}
    assert not stored & {(f["arm"], f["sparsity"], f["seed"]) for f in failures}

    config = config_from_dict(RAW)
    again = run_mask_study(config, load_dataset(config.data), store)
    assert again.trained == 2 and again.failed == 0 and store.failures("executors") == []
    assert comparable(again.rows) == reference


def test_a_lost_training_before_planning_is_one_line_naming_the_rerun(tmp_path):
    raw = {**RAW, "search": {"space": "weight", "sparsities": [0.9], "arms": ["magnitude"]}}
    config = config_from_dict(raw)
    with pytest.raises(SparsearchError, match=r"^training failed: WorkerCrashedError after 3 retries: lost; rerun"):
        run_mask_study(config, load_dataset(config.data), Store(":memory:", write=True), executor=LosesChunk(0))


def test_an_address_without_the_ray_executor_is_refused():
    with pytest.raises(SparsearchError, match="address '127.0.0.1:6379' is for executor = 'ray'"):
        config_from_dict({"engine": {"address": "127.0.0.1:6379"}})
    with pytest.raises(SparsearchError, match="address '127.0.0.1:6379' is for executor = 'ray'"):
        with_engine(Config(), executor="in-process", address="127.0.0.1:6379")


def test_an_address_given_to_run_means_the_ray_executor():
    assert with_engine(Config(), address="127.0.0.1:6379").engine.executor == "ray"
    assert with_engine(Config(), max_memory_gb=1.0).engine.executor == "in-process"


def test_asking_for_ray_without_ray_installed_is_one_line_and_leaves_no_store(tmp_path):
    blocker = tmp_path / "no-ray" / "ray"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ModuleNotFoundError('No module named ray', name='ray')\n")  # as if not installed
    config = tmp_path / "c.toml"
    config.write_text(tomli_w.dumps(RAW))
    store = tmp_path / "never.db"
    script = Path(sys.executable).with_name("sparsearch")
    done = subprocess.run([str(script), "run", str(config), "--store", str(store), "--executor", "ray", "--quiet"],
                          capture_output=True, text=True,
                          env={"PYTHONPATH": os.pathsep.join([str(blocker.parent), str(Path(__file__).parents[1] / "src")]),
                               "PATH": ""})
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: executor 'ray' needs Ray, which is not installed: {install_hint('ray')}"
    assert not store.exists()
