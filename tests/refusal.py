"""Run the real `sparsearch` command in a child process with a memory limit and check that it
refuses: exit code 2, one stderr line starting `error: `, nothing on stdout, no traceback, and
the store's bytes and export unchanged.

The child runs under RLIMIT_AS (address space), so an input that would allocate without bound
fails the test (a MemoryError or a kill, never exit 2) instead of taking the machine down. Its
standard input is empty (as in CI), so a command waiting on a terminal answers as it would
there. The wall-clock guard only stops a hung child so the test fails; it is no speed
assertion and is far above any refusal's time on a slow machine.
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

CHILD_MEMORY = 3 << 30
"""Address space a refused command may map: importing torch and the package takes about 1.3 GiB."""

HANG_GUARD_SECONDS = 600


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))


def sparsearch(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m sparsearch ARGS` in `cwd` under the memory limit, stdin empty; the outcome."""
    child_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "sparsearch", *args], cwd=cwd, env=child_env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          preexec_fn=_limit_memory, timeout=HANG_GUARD_SECONDS)


def store_state(store: Path) -> tuple[str, str]:
    """The store's bytes (hashed) and its export, read by a child without the memory limit."""
    digest = hashlib.sha256(store.read_bytes()).hexdigest() if store.is_file() else ""
    export = subprocess.run([sys.executable, "-m", "sparsearch", "export", "--store", str(store)],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=HANG_GUARD_SECONDS)
    return digest, export.stdout


def refused(args: list[str], tmp_path: Path, finished_store: Path, files: dict | None = None, prepare=None,
            env: dict | None = None) -> str:
    """Copy `finished_store` to tmp_path/s.db, write `files` (name -> str or bytes) there, let
    `prepare(store)` damage or hold it, run `args` ({store} is the copy) and assert the refusal;
    return the one error line."""
    store = tmp_path / "s.db"
    shutil.copy(finished_store, store)
    for name, content in (files or {}).items():
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    held = prepare(store) if prepare else None
    before = store_state(store)
    try:
        result = sparsearch([arg.replace("{store}", str(store)) for arg in args], tmp_path, env)
    finally:
        if hasattr(held, "close"):
            held.close()
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    assert "Traceback" not in result.stderr and result.stdout == "", (result.stdout, result.stderr)
    assert store_state(store) == before
    return lines[0]
