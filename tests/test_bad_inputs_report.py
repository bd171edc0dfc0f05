"""Report folders that cannot take a report: one line (exit 2, no traceback, store unchanged),
said by `run --report` before any training. Issue 29, item 6."""

from __future__ import annotations

import errno

import pytest
from typer.testing import CliRunner

from conftest import toml
from refusal import refused
import sparsearch.report.mask as report_package
from sparsearch.cli import app


def index_is_a_folder(store) -> None:
    (store.parent / "r" / "index.html").mkdir(parents=True)


def a_file_named(name: str):
    def plant(store) -> None:
        (store.parent / name).write_text("not a folder")
    return plant


# The config asks for another experiment, so a report folder checked only after training would
# have let the run change the store first.
OTHER = {"c.toml": toml(experiment={"name": "other", "seeds": 1})}
CASES = {
    "run --report: index.html is a folder": (["run", "c.toml", "--store", "{store}", "--quiet", "--report", "r"],
                                            index_is_a_folder, "r/index.html is a folder; pass another --report"),
    "run --report: under a file": (["run", "c.toml", "--store", "{store}", "--quiet", "--report", "f/r"],
                                   a_file_named("f"), "cannot create report folder f/r: Not a directory; pass another --report"),
    "run --report: a file": (["run", "c.toml", "--store", "{store}", "--quiet", "--report", "f"],
                             a_file_named("f"), "--report f is a file; pass a folder"),
    "report --out: index.html is a folder": (["report", "--store", "{store}", "--out", "r"], index_is_a_folder,
                                            "r/index.html is a folder; pass another --out"),
    "report --out: under a file": (["report", "--store", "{store}", "--out", "f/r"], a_file_named("f"),
                                   "cannot create report folder f/r: Not a directory; pass another --out"),
}


@pytest.mark.parametrize("args, prepare, fragment", CASES.values(), ids=CASES.keys())
def test_a_report_folder_that_cannot_take_the_report_is_one_line(args, prepare, fragment, tmp_path, finished_store):
    line = refused(args, tmp_path, finished_store, OTHER, prepare)
    assert fragment in line, line


def test_a_full_disk_while_writing_the_report_is_one_line(tmp_path, finished_store, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(report_package, "write_mask_report", full_disk)
    result = CliRunner().invoke(app, ["report", "--store", str(finished_store), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and result.stderr.splitlines() == [
        f"error: cannot write the report in {tmp_path / 'r'}: No space left on device; free some space or pass another --out"]
