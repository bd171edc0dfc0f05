"""`Study`: an experiment's results as Python objects, the way a notebook wants them.

Trials and paired comparisons come back as pandas DataFrames, a trained network as a ready
`nn.Module`, the report as files. A study reads its store on demand, so it can outlive the
run that made it (and a store path can be reopened by any later process)."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from .config import Config, config_as_run
from .errors import SparsearchError
from .kinds import ExperimentKind, kind_of
from .store import Store

if TYPE_CHECKING:
    from torch import nn


PROBE_QUALITY = ("kendall_val", "spearman_val", "kendall_test", "spearman_test", "regret_val", "regret_test")


class Study:
    """The experiment `name` in `store` (a `Store`, or the path of one)."""

    def __init__(self, store: Store | str | Path, name: str, outcome=None):
        self._store, self.name = store, name
        self.outcome = outcome  # what the run that returned this study did (MaskRun, SupernetRun), if any

    def __repr__(self) -> str:
        """`Study('name', kind='mask', store='sparsearch.db')`; without the kind if the store cannot say it."""
        try:
            kind = f", kind={self.config.experiment.kind!r}"
        except SparsearchError:  # the store gone or unreadable: a repr never raises
            kind = ""
        store = self._store.path if isinstance(self._store, Store) else self._store
        return f"Study({self.name!r}{kind}, store={str(store)!r})"

    @contextmanager
    def _db(self, write: bool = False) -> Iterator[Store]:
        if isinstance(self._store, Store):
            yield self._store
        else:
            with Store.open(self._store, write=write) as db:
                yield db

    @property
    def config(self) -> Config:
        """The config the experiment last ran with."""
        with self._db() as db:
            return config_as_run(db.config_of(self.name))

    @property
    def kind(self) -> ExperimentKind:
        """The experiment's kind (kinds.py): how it runs and reads back."""
        return kind_of(self.config)

    def table(self, name: str):
        """One of the kind's export tables (`kind.tables`) as a pandas DataFrame."""
        import pandas as pd

        kind = self.kind
        if name not in kind.tables:
            raise SparsearchError(f"table: a {kind.name} experiment has {', '.join(kind.tables)}, got {name!r}")
        with self._db() as db:
            columns, rows = kind.export(db, self.name, name)
        return pd.DataFrame(rows, columns=columns)

    def trials(self):
        """One row per trained network (the export columns) as a pandas DataFrame."""
        return self.table("trials")

    def audits(self):
        """Probe audits (`[arms.random_search] audit = N`): one row per arm, sparsity and seed
        with the probe's rank correlations against trained accuracy and its pick's regret."""
        return self.table("audits")

    def probe_quality(self):
        """The audits summarized per sparsity and arm (means over seeds), as a DataFrame."""
        import pandas as pd

        from .analysis.probe_quality import probe_quality
        from .mask.audits import audit_rows

        with self._db() as db:
            rows = probe_quality(audit_rows(db, self.name))
        return pd.DataFrame([
            {"sparsity": r.sparsity, "arm": r.arm, "probe": r.probe, "audited": r.candidates, "seeds": r.regret_val.n,
             **{f"{name}": getattr(r, name).mean for name in PROBE_QUALITY},
             **{f"{name}_ci": getattr(r, name).half_width for name in PROBE_QUALITY}}
            for r in rows
        ])

    def failures(self):
        """Trials whose training failed in the experiment's last run (a Ray task whose worker
        died more often than `[engine] retries` allows), with the reason, as a DataFrame; a
        rerun retrains them."""
        import pandas as pd

        from .store import FAILURE_COLUMNS

        with self._db() as db:
            return pd.DataFrame(db.failures(self.name), columns=list(FAILURE_COLUMNS))

    def evaluations(self):
        """Super-network searches: one row per evaluated configuration, as a DataFrame."""
        return self.table("evaluations")

    def compare(self, metric: str | None = None):
        """Paired statistics as a DataFrame, one row per comparison: every arm against `random`
        and `dense` per sparsity (mask studies; metric `test_acc` (default), `epochs_to_target`
        or `epochs_to_dense_target`), or every strategy's final hypervolume against `random`
        (super-network searches; no metric)."""
        import pandas as pd

        from .analysis.paired import Comparison

        config = self.config
        with self._db() as db:
            comparisons = kind_of(config).compare(db, self.name, config, metric)
        columns = [*Comparison.__dataclass_fields__, "verdict"]
        return pd.DataFrame([asdict(c) | {"verdict": c.verdict} for c in comparisons], columns=columns)

    def summary(self):
        """The experiment summarized, as its kind gives it: for the built-in kinds a DataFrame. Mask
        studies: per (sparsity, arm) the seeds, mean test accuracy and its 95% t-interval half width
        (`test_acc`, `test_acc_ci`), mean epochs to target, node and weight sparsity, params and
        FLOPs (the CLI's table); super-network searches: per strategy the final hypervolume, the
        evaluations needed to reach random's and the LINAS predictor's tau (empty while no search
        has finished)."""
        config = self.config
        with self._db() as db:
            return kind_of(config).summary(db, self.name, config)

    def report(self, out_dir: str | Path) -> Path:
        """Write the self-contained HTML report and its figures into `out_dir`; return index.html."""
        config = self.config
        with self._db() as db:
            return kind_of(config).report(db, self.name, config, Path(out_dir))

    def measure(self, *, device: str | None = None, threads: int | None = None, progress=None, **settings):
        """Time every trial's network on `device` (`[engine] device` if None: "auto", "cpu", "cuda"
        or "mps") with `threads` torch threads, under the experiment's `[measure]` settings changed
        by `settings` (batch_size, warmup, repeats, kernel), and return `trials()` with its
        `latency_*` columns. Trials already measured under the same setup are reused. `progress`
        as `sparsearch.run` takes it (None: bars in a terminal or notebook)."""
        from .display import shown_progress
        from .measure.trials import measure_stored

        with self._db(write=True) as db, shown_progress(progress) as shown:
            measure_stored(db, self.name, device=device, threads=threads, progress=shown, **settings)
        return self.trials()

    def network(self, trial_key: str, which: str = "best", *, data=None, progress=None) -> nn.Module:
        """The trained network of `trial_key` (see `load_network`), rebuilt where needed as this
        experiment planned it."""
        with self._db() as db:
            return _parts(db, trial_key, which, data, progress, self.name).module()

    def export_model(self, trial_key: str, path: str | Path, which: str = "best", *, data=None, progress=None) -> Path:
        """Write the trained network of `trial_key` as `.onnx`, `.safetensors` or `.pt2` (see
        `export_model`); return the path written."""
        return export_model(self._store, trial_key, path, which, data=data, progress=progress, experiment=self.name)


class RebuildWarning(UserWarning):
    """A trial's network is being rebuilt by retraining it (its weights were not stored)."""


def load_network(store: Store | str | Path, trial_key: str, which: str = "best", *, data=None,
                 progress=None) -> nn.Module:
    """A stored trial's network as a ready `nn.Module` in eval mode: `which="best"` (the
    default) the weights at its best validation epoch, whose test accuracy is the trial's
    `test_acc`, or `"final"` those after its last epoch (`final_test_acc`). For a node mask the
    compacted (thinner) network; for a weight mask the parent's shapes with
    `torch.nn.utils.prune` `weight_mask` buffers on the masked layers. It reads raw features
    standardized as the data's (`Dataset.transform`). A trial stored without those weights is
    retrained, bitwise as stored, to rebuild them (mask/rebuild.py), on `data` if given (else
    the dataset its experiment's config names), reporting to `progress` (else a warning, and a
    bar on a terminal); nothing is written to the store."""
    return _parts(store, trial_key, which, data, progress).module()


def _parts(store: Store | str | Path, trial_key: str, which: str, data, progress, experiment: str | None = None):
    """Trial `trial_key`'s network parts (networks.py), its weights stored or rebuilt."""
    from .networks import check_which, stored_network, trial_parts

    check_which(which)
    if not isinstance(store, Store):
        with Store.open(store) as db:
            return _parts(db, trial_key, which, data, progress, experiment)
    store.trial(trial_key)  # an unknown key is said before anything else
    weights = stored_network(store, trial_key, which)
    if weights is None:
        from .mask.rebuild import rebuilt_weights

        with _reported(store, trial_key, progress) as shown:
            weights = rebuilt_weights(store, trial_key, experiment=experiment, data=data, progress=shown)
    return trial_parts(store, trial_key, which=which, weights=weights)


@contextmanager
def _reported(store: Store, trial_key: str, progress) -> Iterator[object]:
    """Where a rebuild reports: `progress` if given (its phase says what happens), else a warning
    saying so and, on a terminal, a bar on stderr."""
    if progress is not None:
        yield progress
        return
    kept = "its final weights alone" if store.keys_with_weights([trial_key]) else "no weights"
    warnings.warn(f"trial {trial_key!r} was stored with {kept}; retraining it, bitwise as stored, to rebuild its "
                  f"network", RebuildWarning, stacklevel=_caller_level())
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console

    from .display import RichProgress

    with RichProgress(Console(stderr=True)) as bar:
        yield bar


def _caller_level() -> int:
    """The warning stack level of the first caller outside sparsearch (and contextlib)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] in ("sparsearch", "contextlib"):
        frame, level = frame.f_back, level + 1
    return level


def export_model(store: Store | str | Path, trial_key: str, path: str | Path, which: str = "best", *, data=None,
                 progress=None, experiment: str | None = None) -> Path:
    """Write a stored trial's network `which` (`load_network`, rebuilt where needed; weight masks
    folded in) to `path` in the format its suffix names: `.onnx` (opset 17), `.safetensors`
    (state dict and what rebuilds it: `model_export.load_exported`) or `.pt2` (`torch.export`);
    return the path. Refuses, before reading the store, a suffix, folder or missing package it
    cannot write with."""
    from .model_export import NetworkInfo, check_destination, write_network

    destination = check_destination(path)
    if not isinstance(store, Store):
        with Store.open(store) as db:
            return export_model(db, trial_key, destination, which, data=data, progress=progress, experiment=experiment)
    parts = _parts(store, trial_key, which, data, progress, experiment)
    spec, mask, parent = parts.trial["spec"], parts.trial["mask"], parts.parent
    groups = [len(keep) for keep in mask] if isinstance(mask, list) else list(parent.widths[1:-1])  # node: kept
    info = NetworkInfo(trial_key=trial_key, parent=spec["parent"], space=spec.get("space"),
                       arm=(spec.get("arm") or {}).get("name"),
                       widths=(parent.widths[0], *groups, parent.widths[-1]),
                       shapes={name: list(t.shape) for name, t in parent.state_dict(parts.params).items()},
                       weights=which)
    return write_network(parts.module(), destination, info)
