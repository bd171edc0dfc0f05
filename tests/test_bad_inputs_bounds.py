"""User numbers that would allocate without bound, engine settings that cannot work, and configs
too deep to read: one line each (exit 2, no traceback, store bytes and export unchanged),
checked before anything is allocated, through the real command under a memory limit
(tests/refusal.py). Issue 29, items 1 and 3."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from conftest import toml
from refusal import refused
from sparsearch.cli import app

RUN = ["run", "c.toml", "--store", "{store}", "--quiet"]
DIGITS = {"name": "digits", "samples": None}
MNIST1D = {"name": "mnist1d", "samples": 200}
BIG = 10**12


def run_with(args=RUN, **changes) -> dict:
    return {"files": {"c.toml": toml(**changes)}, "args": args}


def arm(name: str, space: str = "node", **settings) -> dict:
    """The config's changes for a study of dense, random and arm `name` with these settings."""
    return {"search": {"space": space, "arms": ["dense", "random", name]}, "arms": {name: settings}}


def tiny_budget(kind: str, data: dict) -> dict:
    return run_with(data=data, parent={"kind": kind}, engine={"max_memory_gb": 1e-12})


def deep_toml(store) -> None:
    (store.parent / "c.toml").write_text("a = " + "[" * 3000 + "]" * 3000 + "\n")


CASES = {
    # dataset sizes
    "synthetic samples": (run_with(data={"samples": BIG}), "data.samples: 1000000000000 makes generating synthetic need"),
    "mnist1d samples": (run_with(data={"name": "mnist1d", "samples": BIG}), "data.samples: 1000000000000 makes generating mnist1d"),
    # conv widths, and max_memory_gb for every parent kind (the budget was ignored by conv parents)
    "lenet5 channels": (run_with(data=DIGITS, parent={"kind": "lenet5", "channels": [10**6, 16]}),
                        "GB one lenet5 network of this data needs to train"),
    "cnn1d channels": (run_with(data=MNIST1D, parent={"kind": "cnn1d", "channels": [10**5] * 3}),
                       "GB one cnn1d network of this data needs to train"),
    "conv2 channels": (run_with(data=DIGITS, parent={"kind": "conv2", "channels": [10**6]}),
                       "GB one conv2 network of this data needs to train"),
    "resnet20 channels": (run_with(data=DIGITS, parent={"kind": "resnet20", "channels": [16, 32, 10**6]}),
                          "GB one resnet20 network of this data needs to train"),
    "lenet5 budget": (tiny_budget("lenet5", DIGITS), "engine.max_memory_gb: 1e-12 is less than the"),
    "cnn1d budget": (tiny_budget("cnn1d", MNIST1D), "engine.max_memory_gb: 1e-12 is less than the"),
    "conv4 budget": (tiny_budget("conv4", DIGITS), "engine.max_memory_gb: 1e-12 is less than the"),
    "resnet20 budget": (tiny_budget("resnet20", DIGITS), "engine.max_memory_gb: 1e-12 is less than the"),
    "mlp budget below one network": (run_with(engine={"max_memory_gb": 1.5e-5}),
                                     "engine.max_memory_gb: 1.5e-05 is less than the"),
    "supernet budget": (run_with(experiment={"kind": "supernet"}, parent={"hidden": [16, 8]},
                                 supernet={"evaluations": 2}, engine={"max_memory_gb": 2.1e-5}),
                        "engine.max_memory_gb: 2.1e-05 is less than the 2.66e-05 GB one mlp network"),
    "budget above the machine's memory": (run_with(engine={"max_memory_gb": 1e6}),
                                          "engine.max_memory_gb: 1000000.0 GB is more than this machine's"),
    "--max-memory above the machine's memory": (run_with(args=[*RUN, "--max-memory", "1e6"]),
                                                "engine.max_memory_gb: 1000000.0 GB is more than this machine's"),
    # counts arms allocate per candidate or event
    "random_search candidates": (run_with(**arm("random_search", candidates=BIG)),
                                 "arms.random_search.candidates: 1000000000000 makes the candidates of 2 seed(s)"),
    "oracle candidates": (run_with(**arm("oracle", candidates=BIG)),
                          "arms.oracle.candidates: 1000000000000 makes the candidates of 2 seed(s)"),
    "gmp events": (run_with(**arm("gmp", "weight", events=BIG)), "arms.gmp.events: 1000000000000 makes the pruning steps"),
    "supernet latency_batch": (run_with(experiment={"kind": "supernet"}, parent={"hidden": [16, 8]},
                                        supernet={"latency_batch": BIG, "evaluations": 2}),
                               "supernet.latency_batch: 1000000000000 makes timing the super-network's latency"),
    # malformed engine settings and configs
    "threads huge": (run_with(engine={"threads": 10**9}), 'engine.threads: must be "auto" or a count from 1 to 1024, got 1000000000'),
    "threads a word": (run_with(engine={"threads": "all"}), "engine.threads: must be \"auto\" or a count from 1 to 1024, got 'all'"),
    "address not an address": (run_with(engine={"executor": "ray", "address": "not an address"}),
                               "engine.address: must be HOST:PORT (e.g. '10.0.0.5:6379'), ray://HOST:PORT or 'auto', got 'not an address'"),
    "address without a port": (run_with(engine={"executor": "ray", "address": "10.0.0.5"}), "got '10.0.0.5'"),
    "--address port out of range": (run_with(args=[*RUN, "--address", "127.0.0.1:70000"]), "got '127.0.0.1:70000'"),
    "variant whose arm is a list": (run_with(search={"arms": ["dense", "random", "r2"]}, arms={"r2": {"arm": ["random"]}}),
                                    "arms.r2.arm: must be the name of one arm (a string), got ['random']"),
    "TOML nested 3,000 deep": ({"args": RUN, "prepare": deep_toml}, "c.toml: arrays or tables nested too deeply to read"),
}


@pytest.mark.parametrize("case, fragment", CASES.values(), ids=CASES.keys())
def test_a_number_without_bound_is_refused_before_anything_is_allocated(case, fragment, tmp_path, finished_store):
    line = refused(case["args"], tmp_path, finished_store, case.get("files"), case.get("prepare"))
    assert fragment in line, line


def test_an_address_where_no_cluster_answers_is_one_line_not_a_hang(tmp_path, finished_store):
    """Nothing listens on port 1: ray.init would retry it for minutes; the command says so at once."""
    pytest.importorskip("ray")
    line = refused([*RUN, "--address", "127.0.0.1:1"], tmp_path, finished_store, {"c.toml": toml()})
    assert line.startswith("error: no Ray cluster answers at '127.0.0.1:1' (Connection refused)"), line


def test_a_budget_that_fits_still_runs(tmp_path):
    """The estimates bound from above without refusing what fits: 1.94e-05 GB for this MLP."""
    (tmp_path / "c.toml").write_text(toml(engine={"max_memory_gb": 2e-5}))
    result = CliRunner().invoke(app, ["run", str(tmp_path / "c.toml"), "--store", str(tmp_path / "s.db"), "--quiet"])
    assert result.exit_code == 0, result.output
