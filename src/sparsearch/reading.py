"""Open the files a user names (the config, data files) without surprises: regular files only,
never blocking on a FIFO, never reading more than a stated cap, every problem one line.

`role` starts each message: what the path is to the user ("config file", "data.root")."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from .errors import SparsearchError

_NOT_REGULAR = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
                (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def present(path: Path, role: str) -> bool:
    """Whether anything is at `path`; a folder on the way that cannot be searched is refused."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as error:
        raise SparsearchError(f"{role}: cannot look for {path} ({error.strerror}); check the permissions of "
                              f"{path.parent} and the folders above it") from None
    return True


def open_regular(path: Path, role: str) -> BinaryIO:
    """`path` opened for binary reading if it is a regular file. It is opened non-blocking, so a
    FIFO is refused at once instead of waiting for a writer."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise SparsearchError(f"{role} not found: {path}") from None
    except OSError as error:
        raise SparsearchError(f"{role}: cannot read {path} ({error.strerror}); check that it is a file you may "
                              f"read") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = next((name for test, name in _NOT_REGULAR if test(mode)), "not a file")
        raise SparsearchError(f"{role}: {path} is {kind}, not a regular file; name a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def size_of(f: BinaryIO) -> int:
    """Bytes in the open regular file `f`."""
    return os.fstat(f.fileno()).st_size


def read_capped(path: Path, role: str, cap: int) -> bytes:
    """All bytes of the regular file `path`, refused if it holds more than `cap`."""
    with open_regular(path, role) as f:
        data = f.read(cap + 1)
    if len(data) > cap:
        raise SparsearchError(f"{role}: {path} is larger than {cap:,} bytes, more than a {role} can be; name "
                              f"the right file")
    return data
