"""TensorBoard: one run folder per experiment (`[log] tensorboard = "DIR"`: DIR/EXPERIMENT), each
trial's curves as scalar series per epoch (`ARM/SPARSITY/SEED/curves/val_acc`, ...), its final
metrics beside them (`ARM/SPARSITY/SEED/test_acc`, ...) and the config as text; written with
`torch.utils.tensorboard`, which needs the `tensorboard` package."""

from __future__ import annotations

import re
from pathlib import Path

import tomli_w

from .base import LoggedTrial


def run_folder(folder: str | Path, experiment: str) -> Path:
    """The experiment's run folder under `folder`: its name with every character but letters,
    digits, `.`, `-` and `_` written as `_` (so no name leaves `folder`)."""
    return Path(folder) / re.sub(r"[^\w.-]|^\.+$", "_", experiment, flags=re.ASCII)


class TensorBoardLogger:
    def __init__(self, folder: str):
        self.folder, self.writer = folder, None

    def start(self, experiment: str, config: dict) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run_folder(self.folder, experiment)))
        toml = tomli_w.dumps(config)
        self.writer.add_text("config", "\n".join(f"    {line}" for line in toml.splitlines()))  # markdown: code

    def trial(self, trial: LoggedTrial) -> None:
        epochs = 0
        for curve, values in trial.curves.items():
            for epoch, value in enumerate(values, start=1):
                self.writer.add_scalar(f"{trial.name}/curves/{curve}", value, epoch)
            epochs = max(epochs, len(values))
        for metric, value in trial.metrics.items():
            self.writer.add_scalar(f"{trial.name}/{metric}", value, epochs)

    def finish(self) -> None:
        if self.writer is not None:
            self.writer.close()
