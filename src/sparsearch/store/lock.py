"""One writer per store: an exclusive `flock` on `STORE.lock`, released by the kernel when the
holder exits or is killed, so a crashed run never leaves a stale lock behind."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ..errors import SparsearchError


class WriterLock:
    """Hold the store's writer lock; raise SparsearchError naming the holder's PID if taken."""

    def __init__(self, store_path: Path):
        self.path = store_path.with_name(store_path.name + ".lock")
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise SparsearchError(f"cannot create lock file {self.path}: {error.strerror}; pass a writable --store path") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(self.fd)
            raise SparsearchError(
                f"store {store_path} in use by PID {holder}; wait for that run to finish or pass another --store"
            ) from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        os.close(self.fd)  # closing the descriptor drops the flock
