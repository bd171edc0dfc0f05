"""Stores on full and on read-only storage, on a real (small, temporary) tmpfs mount: needs root
and mount rights, as CI has; skipped with the reason otherwise."""

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sparsearch.cli import app

from conftest import toml


@pytest.fixture
def tmpfs(tmp_path):
    mount = tmp_path / "mnt"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'not root'})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def _fill(folder: Path) -> None:
    with open(folder / "filler", "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError:
            pass


def test_a_store_created_on_a_full_disk_is_one_line_and_leaves_nothing_behind(tmpfs, tmp_path):
    (tmp_path / "c.toml").write_text(toml())
    _fill(tmpfs)
    result = CliRunner().invoke(app, ["run", str(tmp_path / "c.toml"), "--store", str(tmpfs / "s.db"), "--quiet"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "No space left" in lines[0], result.stderr
    assert sorted(p.name for p in tmpfs.iterdir()) == ["filler"]


def test_a_store_on_read_only_storage_can_be_read(tmpfs, finished_store):
    shutil.copy(finished_store, tmpfs / "s.db")
    expected = CliRunner().invoke(app, ["export", "--store", str(finished_store)]).stdout
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    for command in (["ls"], ["export"], ["show", "tiny"]):
        result = CliRunner().invoke(app, [*command, "--store", str(tmpfs / "s.db")])
        assert result.exit_code == 0, result.output
    assert CliRunner().invoke(app, ["export", "--store", str(tmpfs / "s.db")]).stdout == expected
    refused = CliRunner().invoke(app, ["run", "--store", str(tmpfs / "s.db"), "--quiet"])
    assert refused.exit_code == 2 and refused.stderr.count("\n") == 1, refused.output
