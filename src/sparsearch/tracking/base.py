"""What a logger receives: the `Logger` protocol and one trial as it is logged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

METRICS = ("test_acc", "final_test_acc", "best_val_acc", "best_epoch", "epochs_to_target", "node_sparsity",
           "weight_sparsity", "params", "flops", "train_seconds")
"""A stored trial's final metrics a logger receives (the store's columns of the same names)."""


@dataclass(frozen=True)
class LoggedTrial:
    """One planned trial of a run (an arm at a sparsity for a seed) as the store holds it: the
    key of the trained network answering it, its per-epoch curves (`train_loss`, `val_acc`; the
    first value is epoch 1's; trials stored before test accuracy was evaluated once also have
    `test_acc`) and its final metrics (METRICS)."""

    key: str
    arm: str
    sparsity: float
    seed: int
    curves: dict[str, list[float]]
    metrics: dict[str, float]
    status: str  # "ok", or "diverged" (a non-finite training loss)

    @property
    def name(self) -> str:
        """`arm/sparsity/seed`, e.g. `random/0.9/3`: the trial's place in a run, as loggers name it."""
        return f"{self.arm}/{self.sparsity:g}/{self.seed}"


class Logger(Protocol):
    """Where a run also sends its trials (TensorBoard, MLflow, Weights & Biases, ...). `start`
    once before the first trial, `trial` once per planned trial of the run (reused ones first,
    trained ones as their population is stored), `finish` once at the end, also when the run
    fails. A logger never changes a result; one that raises is dropped with a warning."""

    def start(self, experiment: str, config: dict) -> None:
        """A run of `experiment` begins; `config` is its config as a dict shaped like the TOML."""

    def trial(self, trial: LoggedTrial) -> None:
        """One trial's curves and final metrics."""

    def finish(self) -> None:
        """The run ended: flush and close."""


MEMBERS = ("start", "trial", "finish")
"""What a logger must have."""
