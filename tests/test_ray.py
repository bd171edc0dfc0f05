"""The Ray executor against a real local Ray cluster (`ray start --head` on 127.0.0.1 with two
CPUs, stopped at the end of every test, also when it fails): same exports as in-process, a
killed worker retried, exhausted retries recorded as failures, a killed driver resumed.

Every wait is on an event (a marker file a paused task or store write creates, a process
exit), never on a clock."""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomli_w

from sparsearch.engine.ray_executor import FAULT_PAUSE_IN_TASK, LOCAL_INSTANCE
from sparsearch.extras import install_hint
from sparsearch.store import Store
from sparsearch.store.sqlite import FAULT_PAUSE
from sparsearch.analysis.export import export_rows
from conftest import without_timings

ray = pytest.importorskip("ray", reason=f"the ray extra is not installed ({install_hint('ray')}; make test installs it)")

pytestmark = pytest.mark.slow

RAY = Path(sys.executable).with_name("ray")
NODE = {
    "experiment": {"name": "on-ray", "seeds": 3},
    "data": {"name": "synthetic", "samples": 400},
    "parent": {"hidden": [32, 16]},
    "train": {"epochs": 8, "batch_size": 32},
    "search": {"sparsities": [0.5, 0.75]},
    "arms": {"random_search": {"candidates": 6}},
    "engine": {"max_population": 2, "threads": 1},
}
"""Node space: 15 trials in 8 populations (tasks), no training before planning."""
WEIGHT = {
    **NODE,
    "experiment": {"name": "on-ray-weight", "seeds": 3},
    "search": {"space": "weight", "sparsities": [0.9], "allocation": "global",
               "arms": ["dense", "magnitude", "lottery", "lottery_random", "gmp", "snip"]},
    "arms": {"lottery": {"prune_rate": 0.5}},
}
"""Weight space: trained parents and lottery rounds (trainings before planning) and gmp's step hooks."""
STRUCTURED = {
    **NODE,
    "experiment": {"name": "on-ray-structured", "seeds": 2},
    "search": {"sparsities": [0.5], "arms": ["l1_norm", "taylor", "fpgm", "tuned", "scratch_b", "successive_halving",
                                              "evolution"]},
    "arms": {"tuned": {"arm": "l1_norm", "start": "trained", "finetune_epochs": 3},
             "scratch_b": {"arm": "fpgm", "start": "reinit", "budget": "flops"},
             "successive_halving": {"candidates": 9},
             "evolution": {"population": 4, "children": 2, "sample": 2, "evaluations": 6, "fitness_epochs": 2}},
}
"""The search methods of issue 23: structured criteria on trained parents, trials fine-tuned for
other epochs and Scratch-B's longer ones, successive halving's continued rungs, evolution."""


TOKEN = secrets.token_hex(32)


def environment(**extra) -> dict:
    """Loopback-only Ray servers, workers at normal priority (so a busy machine slows them no
    more than the in-process run), and Ray's token authentication with a token of this test
    run (the cluster, its workers and every driver share it; nothing is read from ~/.ray)."""
    return {**os.environ, **LOCAL_INSTANCE, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": TOKEN, **extra}


@pytest.fixture
def cluster(tmp_path):
    """Start a local Ray cluster; yield a function that starts it with extra environment for
    its workers and returns its address. It is always stopped."""
    started = []

    def start(**env) -> str:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        subprocess.run(
            [str(RAY), "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
             "--include-dashboard=false", "--disable-usage-stats", "--object-store-memory=100000000"],
            env=environment(**env), check=True, capture_output=True,
        )
        started.append(port)
        return f"127.0.0.1:{port}"

    try:
        yield start
    finally:
        if started:
            subprocess.run([str(RAY), "stop", "--force"], env=environment(), capture_output=True)


def sparsearch(*args, env=None, **popen):
    script = Path(sys.executable).with_name("sparsearch")
    return subprocess.Popen([str(script), *map(str, args)], env=environment(**(env or {})), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def finished(process) -> tuple[int, str, str]:
    out, err = process.communicate()
    return process.returncode, out, err


def config_file(tmp_path, raw, name="c.toml") -> Path:
    path = tmp_path / name
    path.write_text(tomli_w.dumps(raw))
    return path


def export(store_path) -> list[dict]:
    with Store.open(store_path) as store:
        return without_timings(export_rows(store))


def in_process_export(tmp_path, config) -> list[dict]:
    store = tmp_path / f"in-process-{config.stem}.db"
    code, _, err = finished(sparsearch("run", config, "--store", store, "--quiet"))
    assert code == 0, err
    return export(store)


def wait_for(marker: Path, process) -> None:
    """Wait until `marker` exists (a paused task or write made it) or `process` has exited."""
    while not marker.exists() and process.poll() is None:  # an event, however slow the machine
        time.sleep(0.05)
    assert marker.exists(), f"the run exited before {marker.name} appeared: {finished(process)}"


def run_killing_a_worker(tmp_path, cluster, config, store):
    """Run `config` on a new cluster whose first task pauses; SIGKILL that task's worker.
    Returns the cluster's address and the run's (exit code, stdout, stderr)."""
    marker = tmp_path / "task-paused"
    address = cluster(**{FAULT_PAUSE_IN_TASK: str(marker)})
    driver = sparsearch("run", config, "--store", store, "--address", address, "--quiet")
    try:
        wait_for(marker, driver)
        os.kill(int(marker.read_text()), signal.SIGKILL)  # the worker running the paused task
        return address, finished(driver)
    finally:
        driver.kill()


@pytest.mark.parametrize("raw, rows", [(NODE, 15), (WEIGHT, 18), (STRUCTURED, 14)], ids=["node", "weight", "structured"])
def test_an_experiment_run_on_a_ray_cluster_exports_what_the_in_process_run_exports(tmp_path, cluster, raw, rows):
    config = config_file(tmp_path, raw)
    address = cluster()
    store = tmp_path / "ray.db"
    code, out, err = finished(sparsearch("run", config, "--store", store, "--address", address, "--quiet"))
    assert code == 0, err
    exported = export(store)
    assert exported == in_process_export(tmp_path, config)
    assert len(exported) == rows and {r["status"] for r in exported} == {"ok"}


def test_a_worker_killed_mid_task_is_retried_and_every_trial_lands_once(tmp_path, cluster):
    config = config_file(tmp_path, WEIGHT)
    store = tmp_path / "ray.db"
    _, (code, _, err) = run_killing_a_worker(tmp_path, cluster, config, store)
    assert code == 0, err
    rows = export(store)
    slots = [(r["arm"], r["sparsity"], r["seed"]) for r in rows]
    assert len(slots) == len(set(slots)) == 18 and {r["status"] for r in rows} == {"ok"}
    assert rows == in_process_export(tmp_path, config)


def test_a_task_past_its_retries_is_recorded_as_failed_and_a_rerun_completes_it(tmp_path, cluster):
    raw = {**NODE, "engine": {**NODE["engine"], "retries": 0}}
    config = config_file(tmp_path, raw)
    store = tmp_path / "ray.db"
    address, (code, _, err) = run_killing_a_worker(tmp_path, cluster, config, store)
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "WorkerCrashedError after 0 retries" in lines[0] and "rerun" in lines[0], err
    with Store.open(store) as db:
        failures = db.failures("on-ray")
        (experiment,) = db.experiments()
        done = len(export_rows(db, "on-ray"))
    assert failures and {f["reason"].split(":")[0] for f in failures} == {"WorkerCrashedError after 0 retries"}
    assert done + len(failures) == experiment["planned"] == 15  # never dropped: each is stored or failed
    assert experiment["status"] == f"incomplete, {len(failures)} failed"

    code, _, err = finished(sparsearch("run", config, "--store", store, "--address", address, "--quiet"))
    assert code == 0, err
    with Store.open(store) as db:
        assert db.failures("on-ray") == []
    assert export(store) == in_process_export(tmp_path, config)


def test_a_driver_killed_mid_run_resumes_from_the_store(tmp_path, cluster):
    config = config_file(tmp_path, NODE)
    address = cluster()
    store = tmp_path / "ray.db"
    marker = tmp_path / "write-paused"
    driver = sparsearch("run", config, "--store", store, "--address", address, "--quiet",
                        env={FAULT_PAUSE: f"{marker}:3"})
    try:
        wait_for(marker, driver)  # the driver is inside its third population's transaction
        driver.kill()
        driver.communicate()
    finally:
        driver.kill()
    with Store.open(store) as db:
        assert 0 < len(export_rows(db, "on-ray")) < 15
    code, out, err = finished(sparsearch("run", config, "--store", store, "--address", address, "--quiet"))
    assert code == 0, err
    assert "reused" in out and " 0 reused" not in out
    assert export(store) == in_process_export(tmp_path, config)


def test_the_api_without_an_address_starts_a_local_ray_and_stops_it(tmp_path):
    script = (
        "import ray, sparsearch, sys\n"
        f"study = sparsearch.run({NODE!r}, store={str(tmp_path / 'local.db')!r}, executor='ray')\n"
        "assert not ray.is_initialized(), 'the local Ray instance was left running'\n"
        "print(study.outcome.trained)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment())
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "15"
    assert export(tmp_path / "local.db") == in_process_export(tmp_path, config_file(tmp_path, NODE))
