"""Experiment tracking ([log]): every planned trial reaches each logger once with what the store
holds; TensorBoard event files and MLflow runs are read back with the real libraries; refusals
come before the store is touched; a failing logger never changes a result."""

import importlib.util
import warnings

import pytest
import tomli_w
from typer.testing import CliRunner

from sparsearch.extras import install_hint
import sparsearch
from sparsearch.cli import app
from sparsearch.store import Store
from sparsearch.tracking import LOGGERS, LoggerWarning
from sparsearch.tracking.base import METRICS
from sparsearch.tracking.tensorboard_logger import run_folder

from conftest import BASE, without_timings

SLOTS = {"dense/0/0", "dense/0/1", "random/0.5/0", "random/0.5/1"}
"""BASE's planned trials as loggers name them: dense runs at sparsity 0 only."""


@pytest.fixture(autouse=True)
def _registry():
    """Loggers registered by a test do not outlive it."""
    saved = dict(LOGGERS)
    yield
    LOGGERS.clear(), LOGGERS.update(saved)


def with_log(**log) -> dict:
    return {**BASE, "log": log}


class Recorder:
    """A Logger that keeps every call."""

    made: list = []

    def __init__(self):
        self.calls = []
        Recorder.made.append(self)

    def start(self, experiment, config):
        self.calls.append(("start", experiment, config))

    def trial(self, trial):
        self.calls.append(("trial", trial))

    def finish(self):
        self.calls.append(("finish",))


def stored(store, experiment="tiny") -> dict:
    """The stored trials by logged name: (key, curves, metrics, status)."""
    with Store.open(store) as db:
        rows, _ = db.trial_rows(experiment)
        out = {}
        for row in rows:
            trial = db.trial(row["trial_key"])
            metrics = {m: float(trial[m]) for m in METRICS if trial[m] is not None}
            out[f"{row['arm']}/{row['sparsity']:g}/{row['seed']}"] = (row["trial_key"], trial["curves"], metrics,
                                                                    trial["status"])
    return out


def test_a_registered_logger_receives_every_planned_trial_once_with_the_stored_curves(tmp_path):
    Recorder.made = []
    sparsearch.register_logger("recorder", Recorder)
    store = tmp_path / "s.db"
    study = sparsearch.run(with_log(loggers=["recorder"]), store=store)
    expected = stored(store)
    assert set(expected) == SLOTS
    again = sparsearch.run(with_log(loggers=["recorder"]), store=store)  # every trial reused: logged again, once
    assert again.outcome.reused == 4 and again.outcome.trained == 0
    assert len(Recorder.made) == 2  # one logger per run
    for logger in Recorder.made:
        calls = logger.calls
        assert calls[0] == ("start", "tiny", study.config.model_dump(exclude_none=True))
        assert calls[-1] == ("finish",)
        trials = [call[1] for call in calls[1:-1]]
        assert sorted(t.name for t in trials) == sorted(SLOTS)  # each planned trial exactly once
        for t in trials:
            assert (t.key, t.curves, t.metrics, t.status) == expected[t.name]
            assert len(t.curves["val_acc"]) == BASE["train"]["epochs"]


def test_tensorboard_event_files_hold_each_trials_curves_and_metrics(tmp_path):
    pytest.importorskip("tensorboard", reason="needs the tensorboard package: pip install 'sparsearch[tensorboard]'")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    store, board = tmp_path / "s.db", tmp_path / "board"
    sparsearch.run(with_log(tensorboard=str(board)), store=store)
    folder = board / "tiny"
    assert list(folder.glob("events.out.tfevents.*"))
    events = EventAccumulator(str(folder))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    for name, (_, curves, metrics, _) in stored(store).items():
        for curve, values in curves.items():
            series = events.Scalars(f"{name}/curves/{curve}")
            assert [e.step for e in series] == [1, 2]
            assert [e.value for e in series] == pytest.approx(values, rel=1e-6)  # stored as float32
        for metric, value in metrics.items():
            assert events.Scalars(f"{name}/{metric}")[0].value == pytest.approx(value, rel=1e-6)
    assert len(tags) == len(SLOTS) * (2 + len(METRICS))  # curves: train_loss, val_acc (test once, a metric)
    assert "config/text_summary" in events.Tags()["tensors"]


def test_the_tensorboard_run_folder_stays_inside_the_folder():
    assert run_folder("runs", "my exp/../x") == run_folder("runs", "my_exp_.._x")
    assert run_folder("runs", "..").name == "_" and run_folder("runs", "a-b.c_1").name == "a-b.c_1"


def test_an_mlflow_run_holds_the_config_and_a_nested_run_per_trial(tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="needs MLflow: pip install 'sparsearch[mlflow]'")
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)  # MLflow keeps a sqlite store's artifacts in ./mlruns
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store = tmp_path / "s.db"
    sparsearch.run(with_log(mlflow=True, mlflow_uri=uri, mlflow_experiment="tracked"), store=store)
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("tracked").experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1 and parents[0].info.run_name == "tiny" and parents[0].info.status == "FINISHED"
    parent = parents[0]
    assert parent.data.params["experiment.seeds"] == "2" and parent.data.params["search.arms"] == "['dense', 'random']"
    assert [a.path for a in client.list_artifacts(parent.info.run_id)] == ["config.toml"]
    children = {r.info.run_name: r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    expected = stored(store)
    assert set(children) == SLOTS
    for name, (key, curves, metrics, status) in expected.items():
        run = children[name]
        arm, sparsity, seed = name.split("/")
        assert run.data.params == {"arm": arm, "sparsity": sparsity, "seed": seed, "trial_key": key}
        assert run.data.tags["status"] == status
        assert run.data.metrics == pytest.approx({**metrics, **{f"curves/{c}": v[-1] for c, v in curves.items()}})
        history = client.get_metric_history(run.info.run_id, "curves/val_acc")
        assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == list(
            enumerate(curves["val_acc"], start=1))


def test_log_settings_change_no_plan_and_no_key(tmp_path):
    sparsearch.register_logger("recorder", Recorder)
    store = tmp_path / "s.db"
    first = sparsearch.run(BASE, store=store)
    logged = sparsearch.run(with_log(loggers=["recorder"]), store=store)  # no --replace needed
    assert logged.outcome.reused == 4 and logged.outcome.trained == 0
    assert logged.trials().trial_key.tolist() == first.trials().trial_key.tolist()


def test_a_failing_logger_is_dropped_with_a_warning_and_changes_no_result(tmp_path):
    class Broken(Recorder):
        def trial(self, trial):
            raise RuntimeError("server gone")

    Recorder.made = []
    sparsearch.register_logger("broken", Broken)
    sparsearch.register_logger("recorder", Recorder)
    plain = sparsearch.run(BASE, store=tmp_path / "plain.db")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logged = sparsearch.run(with_log(loggers=["broken", "recorder"]), store=tmp_path / "logged.db")
    said = [str(w.message) for w in caught if issubclass(w.category, LoggerWarning)]
    assert said == ["[log] broken: trial failed (RuntimeError: server gone); it logs nothing more in this run "
                    "(results are unaffected)"]
    broken, recorder = Recorder.made
    assert [c[0] for c in broken.calls] == ["start"]  # dropped: never finished
    assert len(recorder.calls) == 2 + len(SLOTS)  # the other logger got everything
    assert without_timings(logged.outcome.rows) == without_timings(plain.outcome.rows)


def test_the_cli_says_a_failing_logger_in_one_line_and_finishes_the_run(tmp_path):
    class Broken(Recorder):
        def start(self, experiment, config):
            raise ConnectionError("no server\nat localhost")

    sparsearch.register_logger("broken", Broken)
    (tmp_path / "c.toml").write_text(tomli_w.dumps(with_log(loggers=["broken"])))
    result = CliRunner().invoke(app, ["run", str(tmp_path / "c.toml"), "--store", str(tmp_path / "s.db"), "--quiet"])
    assert result.exit_code == 0, result.output
    said = [line for line in result.output.splitlines() if "broken" in line]
    assert said == ["warning: [log] broken: start failed (ConnectionError: no server at localhost); it logs nothing "
                    "more in this run (results are unaffected)"]
    assert "4 networks in" in result.output


def refusal(config: dict, tmp_path, message: str) -> None:
    """`config` refused in one line by the API and by `sparsearch run` (exit code 2), the store never created."""
    store = tmp_path / "s.db"
    with pytest.raises(sparsearch.SparsearchError) as refused:
        sparsearch.run(config, store=store)
    assert str(refused.value) == message
    (tmp_path / "c.toml").write_text(tomli_w.dumps(config))
    result = CliRunner().invoke(app, ["run", str(tmp_path / "c.toml"), "--store", str(store), "--quiet"])
    assert result.exit_code == 2 and result.output.startswith("error: ") and result.output.strip().endswith(message)
    assert result.output.count("\n") == 1
    assert not store.exists()


@pytest.mark.parametrize("package", ["tensorboard", "mlflow"])
def test_a_missing_package_is_refused_naming_the_extra(tmp_path, monkeypatch, package):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == package else real(name, *a))
    log = {"tensorboard": str(tmp_path / "board")} if package == "tensorboard" else {"mlflow": True}
    refusal(with_log(**log), tmp_path, f"log.{package}: logging to {package} needs the {package} package, which is "
                                       f"not installed; {install_hint(package)}")


def test_unusable_log_settings_are_refused_before_the_store(tmp_path):
    (tmp_path / "board").write_text("")
    refusal(with_log(tensorboard=str(tmp_path / "board")), tmp_path,
            f"log.tensorboard: {str(tmp_path / 'board')!r} is a file; name a folder")
    refusal(with_log(loggers=["wandb"]), tmp_path, "log.loggers: unknown logger 'wandb' (known: none registered); "
                                                   "register it with sparsearch.register_logger")
    refusal(with_log(loggers=["a", "a"]), tmp_path, "log.loggers: loggers must be distinct, got ['a', 'a']")
    refusal(with_log(mlflow_uri="http://localhost:5000"), tmp_path,
            "log: mlflow_uri 'http://localhost:5000' is for mlflow = true, got mlflow = false")
    supernet = {**BASE, "experiment": {"name": "sn", "seeds": 1, "kind": "supernet"},
                "supernet": {"evaluations": 4, "search_population": 2}, "log": {"loggers": ["x"]}}
    refusal(supernet, tmp_path, "log: [log] logs the trials of mask studies; a supernet search logs nothing, so "
                                "remove the [log] table")


def test_registered_loggers_that_cannot_log_are_refused_in_one_line(tmp_path):
    with pytest.raises(sparsearch.SparsearchError, match=r"^register_logger: 'mlflow' is a built-in logger"):
        sparsearch.register_logger("mlflow", Recorder)
    with pytest.raises(sparsearch.SparsearchError, match=r"^register_logger: 'x' needs a factory .* got 3$"):
        sparsearch.register_logger("x", 3)
    with pytest.raises(sparsearch.SparsearchError) as refused:
        sparsearch.register_logger("x", type("NoFinish", (), {"start": print, "trial": print}))
    assert str(refused.value) == "logger 'x' lacks finish (see sparsearch.Logger)"

    def failing():
        raise OSError("no token")

    sparsearch.register_logger("failing", failing)
    sparsearch.register_logger("partial", lambda: object())
    with pytest.raises(sparsearch.SparsearchError) as refused:
        sparsearch.run(with_log(loggers=["failing"]), store=tmp_path / "a.db")
    assert str(refused.value) == "registered logger 'failing' failed: OSError: no token"
    with pytest.raises(sparsearch.SparsearchError) as refused:
        sparsearch.run(with_log(loggers=["partial"]), store=tmp_path / "b.db")
    assert str(refused.value) == "logger 'partial' lacks start, trial, finish (see sparsearch.Logger)"
