"""Where long work reports progress: the CLI draws bars, a notebook may pass its own, the default ignores it."""


class Progress:
    """One phase after another, each with a total, advanced in units of work."""

    def phase(self, label: str, total: int) -> None: ...

    def advance(self, amount: int) -> None: ...
