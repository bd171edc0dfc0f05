"""The one exception type for errors a user can cause (bad config, missing file, bad store), and
the two helpers that keep its message one inert line."""

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class SparsearchError(ValueError):
    """A user-fixable error. The CLI prints its message as one line and exits with code 2; the
    Python API raises it as is (a `ValueError`, so `except ValueError` in a notebook catches it)."""


def one_line(text: object) -> str:
    """`text` (a message, an exception) on one line: runs of whitespace, line breaks included,
    become one space; an empty message becomes the exception's type name."""
    joined = " ".join(str(text).split())
    return joined or type(text).__name__


def inert(text: object) -> str:
    """`text` with every control character (terminal escapes, line breaks, NUL) written as a
    visible escape such as `\\x1b`, so user text printed to a terminal is data, never commands."""
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), str(text))


def described(error: BaseException) -> str:
    """An exception raised by user code (a registered loader or factory) as one line: its type and message."""
    return one_line(f"{type(error).__name__}: {error}")
