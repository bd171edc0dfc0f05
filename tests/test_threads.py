"""`[engine] threads = "auto"`: the cores this process may use less those other work keeps busy."""

import pytest
from typer.testing import CliRunner

from conftest import toml
from sparsearch.cli import app
from sparsearch.config import EngineConfig, config_from_dict
from sparsearch.engine import threads
from sparsearch.errors import SparsearchError


@pytest.mark.parametrize("cores, load, expected", [
    (2, 0.0, 2), (2, 0.49, 2), (2, 0.5, 1), (2, 1.2, 1), (2, 3.6, 1),  # issue 29: 1 thread at load 3.6
    (16, 0.0, 16), (16, 4.4, 12), (16, 40.0, 1), (1, 0.0, 1),
])
def test_auto_threads_are_the_cores_the_load_leaves_free(cores, load, expected):
    assert threads.auto_threads(cores, load) == expected


@pytest.fixture
def busy_two_cores(monkeypatch):
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (3.6, 3.0, 2.0))


def test_auto_is_the_default_and_a_count_is_kept(busy_two_cores):
    assert EngineConfig().thread_choice == threads.ThreadChoice(1, "auto: 2 cores available, load average 3.60")
    assert EngineConfig(threads=2).thread_choice == threads.ThreadChoice(2, "engine.threads")


@pytest.mark.parametrize("value", [0, -1, 1025, 10**9, True, 2.0, "all"])
def test_a_thread_count_out_of_range_is_one_line(value):
    with pytest.raises(SparsearchError) as error:
        config_from_dict({"engine": {"threads": value}})
    assert str(error.value) == f'engine.threads: must be "auto" or a count from 1 to 1024, got {value!r}'


def test_run_says_how_many_threads_and_why(busy_two_cores, tmp_path):
    (tmp_path / "c.toml").write_text(toml())
    result = CliRunner().invoke(app, ["run", str(tmp_path / "c.toml"), "--store", str(tmp_path / "s.db")])
    assert result.exit_code == 0, result.output
    assert "threads: 1 (auto: 2 cores available, load average 3.60)" in result.stderr.splitlines()
