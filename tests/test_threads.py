"""`[engine] threads = "auto"`: the cores this process may use less those other work keeps busy."""

import os
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from conftest import toml
from sparsearch.cli import app
from sparsearch.config import EngineConfig, config_from_dict
from sparsearch.engine import threads
from sparsearch.errors import SparsearchError


@pytest.mark.parametrize("cores, busy, expected", [
    (2, 0.0, 2), (2, 0.49, 2), (2, 0.5, 1), (2, 1.2, 1), (2, 3.6, 1),  # issue 29: 1 thread at load 3.6
    (16, 0.0, 16), (16, 4.4, 12), (16, 40.0, 1), (1, 0.0, 1),
])
def test_auto_threads_are_the_cores_other_work_leaves_free(cores, busy, expected):
    assert threads.auto_threads(cores, busy) == expected


def test_a_sample_reads_the_lines_of_the_cpus_this_process_may_use(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 20 30 400 50 6 7 8 9 10\ncpu0 50 10 15 200 25 3 3 4 0 0\n"
                    "cpu1 50 10 15 200 25 3 4 4 9 10\n")
    ticks = os.sysconf("SC_CLK_TCK")
    monkeypatch.setattr(threads, "affinity", lambda: None)  # affinity unknown: every CPU, the summed line
    sample = threads.cpu_sample(stat)
    assert sample.busy == pytest.approx((100 + 20 + 30 + 6 + 7 + 8) / ticks)  # not idle, iowait
    assert threads.cpu_sample(stat, {1}).busy == pytest.approx((50 + 10 + 15 + 3 + 4 + 4) / ticks)
    assert threads.cpu_sample(stat, {0, 5}).busy == pytest.approx((50 + 10 + 15 + 3 + 3 + 4) / ticks)  # 5: not listed
    assert threads.cpu_sample(stat, {7}).busy == sample.busy  # none listed: the summed line
    monkeypatch.setattr(threads, "affinity", lambda: {0})  # a process pinned to cpu0 reads cpu0's line
    assert threads.cpu_sample(stat).busy == pytest.approx((50 + 10 + 15 + 3 + 3 + 4) / ticks)
    assert threads.cpu_sample(tmp_path / "missing") is None
    stat.write_text("cpu  1 2\n")
    assert threads.cpu_sample(stat) is None


def test_busy_cores_leave_out_this_process():
    before = threads.CpuSample(at=10.0, busy=100.0, own=5.0)
    assert threads.busy_cores(before, threads.CpuSample(at=12.0, busy=103.0, own=6.0)) == 1.0  # (3 - 1) / 2
    assert threads.busy_cores(before, threads.CpuSample(at=12.0, busy=101.0, own=6.0)) == 0.0  # ourselves only


@pytest.mark.skipif(threads.cpu_sample() is None, reason="needs /proc/stat (Linux)")
def test_another_process_spinning_counts_as_busy():
    spinner = subprocess.Popen([sys.executable, "-c", "print('ready', flush=True)\nwhile True: pass"],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert spinner.stdout.readline().strip() == "ready"
        ticks = os.sysconf("SC_CLK_TCK")

        def spinner_seconds():
            fields = open(f"/proc/{spinner.pid}/stat").read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime

        spun, before = spinner_seconds(), threads.cpu_sample()
        while time.monotonic() - before.at < 0.5:
            pass  # this process spinning too: its own time is not other work
        after, spun = threads.cpu_sample(), spinner_seconds() - spun
        assert spun > 0
        assert threads.busy_cores(before, after) >= (spun - 4 / ticks) / (after.at - before.at)
    finally:
        spinner.kill()
        spinner.wait()


@pytest.fixture
def busy_two_cores(monkeypatch):
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(threads, "other_work", lambda: (1.6, "1.2 s"))


def test_auto_is_the_default_and_a_count_is_kept(busy_two_cores):
    assert EngineConfig().thread_choice == threads.ThreadChoice(
        1, "auto: 2 cores available, 1.60 busy with other work over 1.2 s")
    assert EngineConfig(threads=2).thread_choice == threads.ThreadChoice(2, "engine.threads")


def test_without_proc_stat_auto_reads_the_load_average(monkeypatch):
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(threads, "other_work", lambda: None)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (3.6, 3.0, 2.0))
    assert EngineConfig().thread_choice == threads.ThreadChoice(1, "auto: 2 cores available, load average 3.60")


@pytest.mark.skipif(threads.cpu_sample() is None, reason="needs /proc/stat (Linux)")
def test_a_recent_window_is_used_an_old_one_replaced_and_a_measure_shared(monkeypatch):
    slept = []
    monkeypatch.setattr(threads.time, "sleep", slept.append)
    now = threads.cpu_sample()
    monkeypatch.setattr(threads, "_last", threads.CpuSample(now.at - 1.0, now.busy, now.own))
    measured = threads.other_work()
    assert 1.0 <= float(measured[1].removesuffix(" s")) < threads.WINDOW[1] and slept == []  # since the last, no sleep
    assert threads.other_work() is measured and slept == []  # a choice right after shares it
    monkeypatch.setattr(threads, "_last", threads.CpuSample(now.at - 3600.0, now.busy, now.own))
    threads.other_work()
    assert slept == [threads.WINDOW[0]]  # an hour-old start is no measure of now: a fresh window


@pytest.mark.parametrize("value", [0, -1, 1025, 10**9, True, 2.0, "all"])
def test_a_thread_count_out_of_range_is_one_line(value):
    with pytest.raises(SparsearchError) as error:
        config_from_dict({"engine": {"threads": value}})
    assert str(error.value) == f'engine.threads: must be "auto" or a count from 1 to 1024, got {value!r}'


def test_run_says_how_many_threads_and_why(busy_two_cores, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    (tmp_path / "c.toml").write_text(toml())
    result = CliRunner().invoke(app, ["run", str(tmp_path / "c.toml"), "--store", str(tmp_path / "s.db")])
    assert result.exit_code == 0, result.output
    assert "threads: 1 (auto: 2 cores available, 1.60 busy with other work over 1.2 s)" in result.stderr.splitlines()
