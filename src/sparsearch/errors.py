"""The one exception type for errors a user can cause (bad config, missing file, bad store)."""


class SparsearchError(Exception):
    """A user-fixable error. The CLI prints its message as one line and exits with code 2."""
