"""A trial's weights rebuilt by training it again, where the store kept none (`[store]
save_weights = false`, or "auto" for a network over its cap) or the final ones alone (an older
sparsearch).

The experiment that planned the trial plans it again (its arm at that sparsity, for every seed,
as a run does: trainings the arm needs come from the store's artifacts), the trial trains
alone, and its curves must be bitwise those stored, which the engine's determinism promises on
the same torch, CPU and device (docs/store.md); otherwise the rebuild is refused. The store is
only read."""

from __future__ import annotations

import json

from ..config import config_from_dict, tomllib
from ..data import Dataset, load_dataset
from ..engine.device import resolve_device
from ..engine.executor import TaskFailure, torch_settings
from ..errors import SparsearchError
from ..progress import Progress
from ..store import Store, TrialWeights
from .study import Planning, Slot, population_chunk, trial_records, trained_epochs

REBUILDING = "retraining 1 network to rebuild its weights"
"""The progress phase of a rebuild."""


class _Unwritten:
    """The store as planning sees it during a rebuild: read, never written (a training an arm
    needs that the store lacks is kept in memory only)."""

    def __init__(self, store: Store):
        self._store = store

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    def record_artifacts(self, artifacts: dict) -> None:
        pass

    def write_shared(self, type: str, values: dict) -> None:
        pass


def rebuilt_weights(store: Store, trial_key: str, *, experiment: str | None = None, data: Dataset | None = None,
                    progress: Progress | None = None) -> TrialWeights:
    """Trial `trial_key`'s final and best weights, retrained as `experiment` (else the first
    experiment that plans it) planned it, on `data` (else the dataset its config names)."""
    progress = progress or Progress()
    trial = store.trial(trial_key)
    links = store.planned_by(trial_key)
    if not links:
        raise SparsearchError(f"trial {trial_key!r} has no stored weights and no experiment in {store.path} plans it "
                              f"any more, so none can retrain it; rerun its experiment with [store] save_weights = true")
    name, link = next(((e, link) for e, link in links if e == experiment), links[0])
    config = config_from_dict(tomllib.loads(store.config_of(name)), f"experiment {name!r}")
    data = _trained_on(trial_key, trial, config.data, data)
    device = resolve_device(config.engine.device)
    with torch_settings(config.engine.thread_choice.count, device):
        planning = Planning(config, data, _Unwritten(store), progress)
        assignment = planning.assignment(Slot(link.arm, link.sparsity, link.seed))
        if assignment.key != trial_key:
            raise SparsearchError(f"experiment {name!r} now plans arm {link.arm} at sparsity {link.sparsity:g}, seed "
                                  f"{link.seed} as another trial than {trial_key!r} (this sparsearch chooses another "
                                  f"mask), so it cannot rebuild its weights")
        trainer = planning.trainer
        epochs = trained_epochs(assignment, config)
        progress.phase(REBUILDING, epochs)
        chunk = population_chunk(trainer, [assignment], keep_best=True)
        ((_, curves),) = trainer.for_epochs(epochs).train_many([chunk], progress.advance)
    if isinstance(curves, TaskFailure):
        raise SparsearchError(f"retraining trial {trial_key!r} failed: {curves.reason}")
    (record,), weights = trial_records(trainer, [assignment], curves, True)
    if not _same_numbers(record, trial):
        raise SparsearchError(f"trial {trial_key!r} retrained to other curves than stored (another torch version, CPU "
                              f"or device than {device} computes other numbers), so its weights cannot be rebuilt here; "
                              f"rerun its experiment with [store] save_weights = true where it was trained")
    return weights[trial_key]


def _trained_on(trial_key: str, trial: dict, config_data, data: Dataset | None) -> Dataset:
    """The data the trial trained on: `data`, or the dataset its experiment's config names,
    either checked against the fingerprint its key holds."""
    if data is not None and not isinstance(data, Dataset):
        raise SparsearchError(f"data must be a sparsearch.Dataset (the one trial {trial_key!r} trained on), got "
                              f"{type(data).__name__}")
    if data is None:
        try:
            data = load_dataset(config_data)
        except SparsearchError as error:
            raise SparsearchError(f"rebuilding trial {trial_key!r} needs its data and {config_data.name!r} does not "
                                  f"load ({error}); pass data= (the Dataset it trained on)") from None
    if data.fingerprint != trial["spec"]["data"]["fingerprint"]:
        raise SparsearchError(f"data: {data.name!r} holds other arrays than trial {trial_key!r} trained on (their "
                              f"fingerprints differ); pass the Dataset it trained on")
    return data


def _same_numbers(record, trial: dict) -> bool:
    """Whether a retrained trial's curves and test accuracies are bitwise those stored (a trial
    stored before tests ran once also has a per-epoch test curve, which a retraining no longer
    evaluates)."""
    curves = {name: trial["curves"][name] for name in record.curves}
    return (json.dumps(record.curves) == json.dumps(curves)
            and (record.test_acc, record.final_test_acc) == (trial["test_acc"], trial["final_test_acc"]))

