"""One writer per store: an exclusive `flock` on `STORE.lock`, released by the kernel when the
holder exits or is killed, so a crashed run never leaves a stale lock behind."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ..errors import SparsearchError


def lock_path(store_path: Path) -> Path:
    if store_path.is_dir():
        raise SparsearchError(f"store {store_path} is a folder; pass a file path as --store")
    return store_path.with_name(store_path.name + ".lock")


def _take(fd: int, store_path: Path) -> None:
    """flock `fd` or close it and raise SparsearchError naming the holder's PID."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise SparsearchError(
            f"store {store_path} in use by PID {holder}; wait for that run to finish or pass another --store"
        ) from None


def check_free(store_path: Path) -> None:
    """Raise SparsearchError if another process holds the store's writer lock (checked before a
    run loads its data, so a busy store is said at once); creates nothing."""
    try:
        fd = os.open(lock_path(store_path), os.O_RDONLY)
    except OSError:
        return  # no lock file: no writer (a writer creates it first)
    _take(fd, store_path)
    os.close(fd)


class WriterLock:
    """Hold the store's writer lock; raise SparsearchError naming the holder's PID if taken."""

    def __init__(self, store_path: Path):
        self.path = lock_path(store_path)
        created = not self.path.exists()
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise SparsearchError(f"cannot create lock file {self.path}: {error.strerror}; pass a writable --store path") from None
        _take(self.fd, store_path)
        try:
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as error:
            if created:
                self.path.unlink()
            os.close(self.fd)
            raise SparsearchError(f"cannot write lock file {self.path}: {error.strerror}; free space or pass "
                                  f"another --store path") from None

    def release(self) -> None:
        os.close(self.fd)  # closing the descriptor drops the flock
