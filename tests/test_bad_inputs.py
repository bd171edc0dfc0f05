"""Every input a user can get wrong gives one line on stderr, exit code 2, no traceback, and
leaves the store as it was (its bytes and its export). Each case runs the real command
in-process against a copy of a store holding a finished experiment of the same name."""

import fcntl
import hashlib
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import sql, toml
from sparsearch.cli import app as main
from sparsearch.extras import install_hint

def run_with(**changes):
    return {"files": {"c.toml": toml(**changes)}, "args": ["run", "c.toml", "--store", "{store}", "--quiet"]}


def check_with(**changes):
    return {"files": {"c.toml": toml(**changes)}, "args": ["config", "--check", "c.toml"]}


def files(args, **contents):
    return {"files": contents, "args": args}


CONFIG_CASES = {
    "missing config file": {"args": ["run", "nope.toml", "--store", "{store}"]},
    "config is a folder": {"args": ["run", ".", "--store", "{store}"]},
    "non-UTF-8 config (run)": files(["run", "c.toml", "--store", "{store}"], **{"c.toml": b'name = "\xff"\n'}),
    "non-UTF-8 config (check)": files(["config", "--check", "c.toml"], **{"c.toml": b"[experiment]\nname = '\xfe'\n"}),
    "not TOML": files(["run", "c.toml", "--store", "{store}"], **{"c.toml": "[experiment\n"}),
    "empty config": files(["run", "c.toml", "--store", "{store}"], **{"c.toml": ""}),
    "only comments": files(["config", "--check", "c.toml"], **{"c.toml": "# nothing\n"}),
    "unknown section": run_with(experimnt={"name": "x"}),
    "unknown key": run_with(train={"epoch": 3}),
    "seeds = true": run_with(experiment={"seeds": True}),
    "seeds = 0": run_with(experiment={"seeds": 0}),
    "seeds a string": run_with(experiment={"seeds": "3"}),
    "seeds a float": run_with(experiment={"seeds": 1.5}),
    "seeds listed twice": run_with(experiment={"seeds": [1, 1]}),
    "seeds a negative list": run_with(experiment={"seeds": [-1]}),
    "empty name": run_with(experiment={"name": ""}),
    "unknown kind": run_with(experiment={"kind": "nas"}),
    "unknown dataset": run_with(data={"name": "imagenet"}),
    "val_fraction 1.5": run_with(data={"val_fraction": 1.5}),
    "samples 5": run_with(data={"samples": 5}),
    "download a string": run_with(data={"download": "yes"}),
    "mnist without files": run_with(data={"name": "mnist", "root": "nowhere"}),
    "unknown parent": run_with(parent={"kind": "transformer"}),
    "no hidden layer": run_with(parent={"hidden": []}),
    "hidden width 0": run_with(parent={"hidden": [0]}),
    "hidden width true": run_with(parent={"hidden": [True]}),
    "hidden width 5e7 (memory)": run_with(parent={"hidden": [50_000_000]}),
    "hidden width 2e9 (memory)": run_with(parent={"hidden": [2_000_000_000]}),
    "hidden width 2e9 (check)": check_with(parent={"hidden": [2_000_000_000]}),
    "epochs 0": run_with(train={"epochs": 0}),
    "epochs true": run_with(train={"epochs": True}),
    "lr inf": run_with(train={"lr": float("inf")}),
    "lr nan": run_with(train={"lr": float("nan")}),
    "nesterov with adam": run_with(train={"optimizer": "adam", "nesterov": True}),
    "step schedule without milestones": run_with(train={"schedule": "step"}),
    "milestone past the epochs": run_with(train={"schedule": "step", "milestones": [2]}),
    "milestones without step": run_with(train={"milestones": [1]}),
    "warmup as long as training": run_with(train={"warmup_epochs": 2}),
    "label_smoothing 1": run_with(train={"label_smoothing": 1.0}),
    "unknown augmentation": run_with(data={"augment": ["rotate"]}),
    "augment flat data": run_with(data={"augment": ["crop"]}),
    "supernet with label smoothing": run_with(experiment={"kind": "supernet"}, train={"label_smoothing": 0.1}),
    "lr negative": run_with(train={"lr": -0.1}),
    "lr true": run_with(train={"lr": True}),
    "momentum 1": run_with(train={"momentum": 1.0}),
    "unknown optimizer": run_with(train={"optimizer": "rmsprop"}),
    "batch size false": run_with(train={"batch_size": False}),
    "space elastic (moved)": run_with(search={"space": "elastic"}),
    "flat key moved": run_with(search={"candidates": 4}),
    "sparsity 1": run_with(search={"sparsities": [1.0]}),
    "sparsities repeated": run_with(search={"sparsities": [0.5, 0.5]}),
    "no sparsities": run_with(search={"sparsities": []}),
    "sparsity empties a layer": run_with(parent={"hidden": [2]}, search={"sparsities": [0.9]}),
    "unknown arm": run_with(search={"arms": ["dense", "oracle2"]}),
    "arm repeated": run_with(search={"arms": ["dense", "dense"]}),
    "arm in the wrong space": run_with(search={"arms": ["grasp"]}),
    "unknown arm setting": run_with(search={"arms": ["random_search"]}, arms={"random_search": {"candidatez": 3}}),
    "arm setting of the wrong type": run_with(search={"arms": ["random_search"]},
                                              arms={"random_search": {"candidates": True}}),
    "rewind past the recipe": run_with(search={"space": "weight", "arms": ["lottery"]},
                                       arms={"lottery": {"rewind_epoch": 9}}),
    "allocation unknown": run_with(search={"allocation": "erk2"}),
    "max_memory_gb inf": run_with(engine={"max_memory_gb": float("inf")}),
    "max_memory_gb 0": run_with(engine={"max_memory_gb": 0}),
    "threads 0": run_with(engine={"threads": 0}),
    "precision fp16": run_with(engine={"precision": "fp16"}),
    "executor unknown": run_with(engine={"executor": "mpi"}),
    "address without ray": run_with(engine={"executor": "in-process", "address": "h:6379"}),
    "save_weights a string": run_with(store={"save_weights": "yes"}),
    "supernet evaluations beyond the space": run_with(experiment={"kind": "supernet"}, parent={"hidden": [8]}),
    "supernet with an unknown strategy": check_with(experiment={"kind": "supernet"}, supernet={"strategies": ["grid"]}),
    "supernet largest_weight 0": check_with(experiment={"kind": "supernet"}, supernet={"largest_weight": 0}),
    "supernet largest_weight a word": check_with(experiment={"kind": "supernet"}, supernet={"largest_weight": "all"}),
}

COMMAND_CASES = {
    "unknown command": {"args": ["train"]},
    "unknown option": {"args": ["ls", "--stor", "{store}"]},
    "export format xml": {"args": ["export", "--store", "{store}", "--format", "xml"]},
    "front seed not a number": {"args": ["front", "tiny", "--store", "{store}", "--seed", "x"]},
    "report without --out": {"args": ["report", "--store", "{store}"]},
    "max-memory 0": {"args": ["run", "--store", "{store}", "--max-memory", "0"]},
    "executor unknown (option)": {"args": ["run", "--store", "{store}", "--executor", "mpi"]},
    "report folder is a file": files(["run", "c.toml", "--store", "{store}", "--report", "c.toml"], **{"c.toml": toml()}),
    "store folder missing": files(["run", "c.toml", "--store", "no/such/s.db"], **{"c.toml": toml()}),
    "store is a folder": files(["run", "c.toml", "--store", "."], **{"c.toml": toml()}),
    "store is a text file": files(["ls", "--store", "c.toml"], **{"c.toml": toml()}),
    "run into a text file": files(["run", "c.toml", "--store", "c.toml"], **{"c.toml": toml()}),
    "no store to list": {"args": ["ls", "--store", "none.db"]},
    "no store to export": {"args": ["export", "--store", "none.db"]},
    "show unknown experiment": {"args": ["show", "nope", "--store", "{store}"]},
    "rm unknown experiment": {"args": ["rm", "nope", "--yes", "--store", "{store}"]},
    "export unknown experiment": {"args": ["export", "--store", "{store}", "--experiment", "nope"]},
    "evaluations without experiment": {"args": ["export", "--store", "{store}", "--evaluations"]},
    "evaluations and audits": {"args": ["export", "--store", "{store}", "--experiment", "tiny", "--evaluations",
                                        "--audits"]},
    "evaluations of a mask experiment": {"args": ["export", "--store", "{store}", "--experiment", "tiny",
                                                  "--evaluations"]},
    "export into a missing folder": {"args": ["export", "--store", "{store}", "--out", "no/such/x.csv"]},
    "front of a mask experiment": {"args": ["front", "tiny", "--store", "{store}"]},
    "report into a file": files(["report", "--store", "{store}", "--out", "c.toml"], **{"c.toml": "x"}),
    "config without a choice": {"args": ["config"]},
    "config both choices": files(["config", "--default", "--check", "c.toml"], **{"c.toml": toml()}),
    "bench populations not numbers": {"args": ["bench", "--populations", "a,b"]},
    "bench population 0": {"args": ["bench", "--populations", "0"]},
    "bench sparsity 1": {"args": ["bench", "--sparsities", "1"]},
}


def _lock_held(store: Path):
    handle = open(store.with_name(store.name + ".lock"), "w")
    handle.write("4242\n")
    handle.flush()
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return handle


def _tables_missing(store: Path):
    sql(store, "DROP TABLE failures")


def _newer_schema(store: Path):
    sql(store, "PRAGMA user_version = 99")


STORE_CASES = {
    "run on a busy store": (_lock_held, ["run", "c.toml", "--store", "{store}"]),
    "ls of a store missing a table": (_tables_missing, ["ls", "--store", "{store}"]),
    "export of a store missing a table": (_tables_missing, ["export", "--store", "{store}"]),
    "run on a store missing a table": (_tables_missing, ["run", "c.toml", "--store", "{store}", "--quiet"]),
    "ls of a newer store": (_newer_schema, ["ls", "--store", "{store}"]),
    "run on a newer store": (_newer_schema, ["run", "c.toml", "--store", "{store}", "--quiet"]),
}


def _state(store: Path) -> tuple[str, str]:
    export = CliRunner().invoke(main, ["export", "--store", str(store)])
    return hashlib.sha256(store.read_bytes()).hexdigest(), export.stdout


def _refused(case: dict, tmp_path: Path, store: Path, prepare=None):
    shutil.copy(store, tmp_path / "s.db")
    store = tmp_path / "s.db"
    for name, content in case.get("files", {}).items():
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    held = prepare(store) if prepare else None
    before = _state(store)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = CliRunner().invoke(main, [arg.replace("{store}", str(store)) for arg in case["args"]])
    finally:
        os.chdir(cwd)
        if held is not None:
            held.close()
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
    if prepare is not _tables_missing:
        assert not (tmp_path / "no").exists()
    assert _state(store) == before
    return lines[0]


@pytest.mark.parametrize("case", CONFIG_CASES.values(), ids=CONFIG_CASES.keys())
def test_a_bad_config_is_one_line_and_the_store_is_unchanged(case, tmp_path, finished_store):
    _refused(case, tmp_path, finished_store)


@pytest.mark.parametrize("case", COMMAND_CASES.values(), ids=COMMAND_CASES.keys())
def test_a_bad_command_is_one_line_and_the_store_is_unchanged(case, tmp_path, finished_store):
    _refused(case, tmp_path, finished_store)


@pytest.mark.parametrize("prepare, args", STORE_CASES.values(), ids=STORE_CASES.keys())
def test_a_bad_store_is_one_line_and_unchanged(prepare, args, tmp_path, finished_store):
    _refused({"files": {"c.toml": toml()}, "args": args}, tmp_path, finished_store, prepare)


def test_the_suite_covers_at_least_sixty_cases():
    assert len(CONFIG_CASES) + len(COMMAND_CASES) + len(STORE_CASES) >= 60


def test_issue_29_added_at_least_sixty_cases_across_its_classes():
    """Data files, stores, unbounded numbers, report folders and the Python API: each class in its own file."""
    import test_bad_inputs_api
    import test_bad_inputs_bounds
    import test_bad_inputs_data
    import test_bad_inputs_report
    import test_bad_inputs_store

    added = {module.__name__: len(module.CASES) for module in (
        test_bad_inputs_api, test_bad_inputs_bounds, test_bad_inputs_data, test_bad_inputs_report, test_bad_inputs_store)}
    added["damaged store pages"] = len(test_bad_inputs_store.DAMAGED)
    assert sum(added.values()) >= 60 and min(added.values()) >= 5, added


def test_messages_quote_what_they_got(tmp_path, finished_store):
    line = _refused(run_with(experiment={"seeds": True}), tmp_path, finished_store)
    assert line == "error: c.toml: experiment.seeds: must be a count from 1 to 10000 or a list of seeds, got True"
    line = _refused(run_with(train={"lr": float("inf")}), tmp_path, finished_store)
    assert line == "error: c.toml: train.lr: Input should be a finite number, got inf"


def test_a_busy_store_is_said_before_the_data_loads(tmp_path, finished_store):
    """The lock is checked first: with data that cannot load, the busy store is what is said."""
    line = _refused({"files": {"c.toml": toml(data={"name": "mnist", "root": "nowhere"})},
                     "args": ["run", "c.toml", "--store", "{store}"]}, tmp_path, finished_store, _lock_held)
    assert line == f"error: store {tmp_path / 's.db'} in use by PID 4242; wait for that run to finish or pass another --store"


def test_user_text_is_printed_verbatim_never_as_markup(tmp_path):
    (tmp_path / "a.toml").write_text(toml(experiment={"name": "x[/y]", "seeds": 1}))
    (tmp_path / "b.toml").write_text(toml(experiment={"name": "sweep[v2]", "seeds": 1}))
    store = str(tmp_path / "s.db")
    for config in ("a.toml", "b.toml"):
        result = CliRunner().invoke(main, ["run", str(tmp_path / config), "--store", store, "--quiet"])
        assert result.exit_code == 0, result.output
    listed = CliRunner().invoke(main, ["ls", "--store", store])
    assert listed.exit_code == 0 and "x[/y]" in listed.stdout and "sweep[v2]" in listed.stdout
    (tmp_path / "d.toml").write_text(toml(data={"name": "mnist", "root": str(tmp_path / "none"), "download": True}))
    result = CliRunner().invoke(main, ["run", str(tmp_path / "d.toml"), "--store", store])
    assert result.exit_code == 2 and install_hint("torchvision") in result.stderr, result.stderr  # [...] kept


def test_quick_keeps_a_valid_config_valid():
    """A lottery rewinding at epoch 7 of 30 still runs with --quick (5 epochs): it rewinds at 4."""
    from sparsearch.arms import build_arms, quick_arms
    from sparsearch.config import config_from_dict, quick

    config = config_from_dict({"search": {"space": "weight", "arms": ["lottery"]}, "arms": {"lottery": {"rewind_epoch": 7}}})
    arms = build_arms(quick_arms(quick(config)))
    assert arms["lottery"].params.rewind_epoch == 4


def test_names_with_terminal_escapes_print_as_inert_text(tmp_path):
    """Issue 29: a name carrying ESC [2J (clear screen), from a config or from someone else's
    store, reached the terminal raw from `run` and `ls`; it prints escaped."""
    (tmp_path / "c.toml").write_text(toml(experiment={"name": "x\u001b[2Jy", "seeds": 1}))
    store = str(tmp_path / "s.db")
    for args in (["run", str(tmp_path / "c.toml"), "--store", store], ["ls", "--store", store],
                 ["show", "x\u001b[2Jy", "--store", store]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.stdout + result.stderr and "x\\x1b[2Jy" in result.stdout, result.stdout
