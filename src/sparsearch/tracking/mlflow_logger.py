"""MLflow: one MLflow run per sparsearch run (named after the experiment, the config flattened
into its params and whole as `config.toml`), with a nested run per trial (`ARM/SPARSITY/SEED`:
params arm, sparsity, seed and trial_key, the curves as per-epoch metrics `curves/val_acc`, ...,
and the final metrics). The tracking URI is `[log] mlflow_uri`, else MLflow's own
(MLFLOW_TRACKING_URI, else its default)."""

from __future__ import annotations

import time

import tomli_w

from .base import LoggedTrial

PARAM_LENGTH = 500
"""Longest param value MLflow accepts everywhere; longer ones are cut (config.toml has them whole)."""
BATCH = 100
"""Params per `log_batch` call (MLflow's limit; its metric limit is larger)."""


def flat_params(tree: dict, prefix: str = "") -> dict[str, str]:
    """A nested config dict as MLflow params: dotted keys, values as text of at most PARAM_LENGTH."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flat_params(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = str(value)[:PARAM_LENGTH]
    return out


class MlflowLogger:
    def __init__(self, uri: str | None, experiment: str | None):
        self.uri, self.experiment = uri, experiment
        self.client = self.run_id = self.experiment_id = None

    def start(self, experiment: str, config: dict) -> None:
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=self.uri)
        name = self.experiment or experiment
        found = self.client.get_experiment_by_name(name)
        self.experiment_id = found.experiment_id if found is not None else self.client.create_experiment(name)
        self.run_id = self.client.create_run(self.experiment_id, run_name=experiment).info.run_id
        self._log(self.run_id, params=flat_params(config))
        self.client.log_text(self.run_id, tomli_w.dumps(config), "config.toml")

    def trial(self, trial: LoggedTrial) -> None:
        run = self.client.create_run(self.experiment_id, run_name=trial.name,
                                     tags={"mlflow.parentRunId": self.run_id, "status": trial.status})
        curves = [(f"curves/{curve}", value, epoch) for curve, values in trial.curves.items()
                  for epoch, value in enumerate(values, start=1)]
        self._log(run.info.run_id, params={"arm": trial.arm, "sparsity": f"{trial.sparsity:g}", "seed": str(trial.seed),
                                           "trial_key": trial.key},
                  metrics=curves + [(metric, value, 0) for metric, value in trial.metrics.items()])
        self.client.set_terminated(run.info.run_id)

    def _log(self, run_id: str, params: dict[str, str], metrics: list[tuple[str, float, int]] = ()) -> None:
        from mlflow.entities import Metric, Param

        now = int(time.time() * 1000)
        params, metrics = [Param(k, v) for k, v in params.items()], [Metric(k, v, now, step) for k, v, step in metrics]
        for start in range(0, max(len(params), len(metrics)), BATCH):
            self.client.log_batch(run_id, metrics=metrics[start:start + BATCH], params=params[start:start + BATCH])

    def finish(self) -> None:
        if self.run_id is not None:
            self.client.set_terminated(self.run_id)
