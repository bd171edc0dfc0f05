"""Trial specs: everything that determines a stored result, as frozen dataclasses.

A spec's `.key` is the SHA-256 of its one canonical encoding (`canonical_key`: its `to_json()`
as JSON with sorted keys); the store files the result under that key and keeps `to_json()`
beside it. The encodings are those of every earlier release, so stored results stay reusable:
tests/test_trial_keys.py pins them. fp32 adds no precision field (keys from before precision
was a setting stay valid).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass


def canonical_key(fields: dict) -> str:
    """The SHA-256 hex digest of `fields` as JSON with sorted keys."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def precision_fields(precision: str) -> dict:
    """The precision's part of a key: nothing for fp32, {"precision": ...} otherwise."""
    return {} if precision == "fp32" else {"precision": precision}


class _Keyed:
    def to_json(self) -> dict:
        raise NotImplementedError

    @property
    def key(self) -> str:
        return canonical_key(self.to_json())


@dataclass(frozen=True)
class RunSpec:
    """What every training of one mask-study run shares: the engine's recipe version, the data
    (name and fingerprint of its arrays, and its augmentation where there is one: absent
    otherwise, so earlier keys stay valid), the parent (`Parent.spec`), the recipe
    (`TrainConfig.keyed`) and precision."""

    recipe_version: int
    data_name: str
    data_fingerprint: str
    parent: dict
    train: dict
    precision: str = "fp32"
    augment: tuple[str, ...] = ()

    def to_json(self) -> dict:
        data = {"name": self.data_name, "fingerprint": self.data_fingerprint,
                **({"augment": list(self.augment)} if self.augment else {})}
        return {"recipe_version": self.recipe_version, "data": data, "parent": self.parent, "train": self.train,
                **precision_fields(self.precision)}


@dataclass(frozen=True)
class TrialSpec(_Keyed):
    """A mask study's trial: the run, the space, the arm and its settings (`Arm.spec`), the mask's
    digest, the starting weights, the step hook, the data order and, where the arm trains it for
    other than the recipe's epochs (fine-tuning, Scratch-B), its epochs (absent otherwise, so
    the keys of recipe-length trials are those of earlier releases)."""

    run: RunSpec
    space: str
    arm: dict
    mask: object
    start: object
    hook: object
    order_seed: int
    epochs: int | None = None

    def to_json(self) -> dict:
        return {**self.run.to_json(), "space": self.space, "arm": self.arm, "mask": self.mask, "start": self.start,
                "hook": self.hook, "order_seed": self.order_seed,
                **({} if self.epochs is None else {"epochs": self.epochs})}


@dataclass(frozen=True)
class TrainingSpec(_Keyed):
    """A training an arm needs before it chooses (a trained parent, a lottery round): its final
    `weights` or its `curves` after `epochs` epochs from `start`, masked by `mask` (a digest) or not."""

    run: RunSpec
    start: object
    order_seed: int
    epochs: int
    mask: object
    what: str = "weights"

    def to_json(self) -> dict:
        return {**self.run.to_json(), "start": self.start, "order_seed": self.order_seed, "epochs": self.epochs,
                "mask": self.mask, "what": self.what}


@dataclass(frozen=True)
class SupernetSpec(_Keyed):
    """One seed's trained super-network: recipe version, data, the parent (an MLP's widths,
    any other kind's `Parent.spec`), the elastic width fractions, the seed, the recipe, the
    `[supernet]` settings and the precision."""

    SANDWICH_LOSS = "sum, per-weight mean gradient"

    recipe_version: int
    data_name: str
    data_fingerprint: str
    widths: tuple[int, ...] | dict
    fractions: tuple[float, ...]
    seed: int
    train: dict
    supernet: dict
    precision: str = "fp32"

    def to_json(self) -> dict:
        return {"recipe_version": self.recipe_version, "sandwich_loss": self.SANDWICH_LOSS,
                "data": {"name": self.data_name, "fingerprint": self.data_fingerprint},
                "parent": self.widths if isinstance(self.widths, dict) else list(self.widths),
                "widths": list(self.fractions), "seed": self.seed, "train": self.train,
                "supernet": self.supernet, **precision_fields(self.precision)}


@dataclass(frozen=True)
class SearchSpec(_Keyed):
    """One search of a super-network (by its key): strategy, seed and the search settings. `ANCHORS`
    marks searches that evaluate the largest and the smallest sub-network first (moo/strategies.py),
    so searches stored before that are recomputed."""

    ANCHORS = "largest and smallest first"

    supernet: str
    strategy: str
    seed: int
    objectives: tuple[str, ...]
    evaluations: int
    population: int
    predictor: str
    latency_batch: int

    def to_json(self) -> dict:
        return {"supernet": self.supernet, "strategy": self.strategy, "seed": self.seed,
                "objectives": list(self.objectives), "evaluations": self.evaluations, "population": self.population,
                "predictor": self.predictor, "latency_batch": self.latency_batch, "anchors": self.ANCHORS}
