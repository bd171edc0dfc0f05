"""The budgeted evaluation cache every search strategy goes through, and its `SearchLog`.

A configuration is an integer vector: entry d is the index of the option chosen for
dimension d (dimension d has `choices[d]` options), as in Once-for-All / BigNAS super-network
sub-network search. Each distinct configuration is evaluated for real at most once.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import SparsearchError


@dataclass
class SearchLog:
    """What a search evaluated, in evaluation order.

    `configs` [budget, D] int, `objectives` [budget, M] float (minimized), `rounds`: one dict
    per `evaluate` call with `round`, `new` (configurations in that batch), `evaluations`
    (unique evaluations so far) and, for linas, `kendall_tau` (one value per objective).
    """

    configs: np.ndarray
    objectives: np.ndarray
    rounds: list[dict] = field(default_factory=list)
    strategy: str = ""
    seed: int = 0


def space_size(choices: Sequence[int]) -> int:
    return math.prod(int(c) for c in choices)


def validate_choices(choices: Sequence[int]) -> list[int]:
    """`choices` as a list of ints >= 1 (options per dimension), or a SparsearchError."""
    values = list(np.asarray(choices).reshape(-1)) if np.ndim(choices) else []
    ok = bool(values) and all(isinstance(c, numbers.Integral) and not isinstance(c, bool) and c >= 1 for c in values)
    if not ok:
        raise SparsearchError(f"choices must be a non-empty list of integers >= 1 (options per dimension), got {choices!r}")
    return [int(c) for c in values]


class Evaluations:
    """Cache keyed by the configuration tuple; calls `evaluate` in batches of new configurations.

    Stops at exactly `budget` unique evaluations: a batch that would exceed it is truncated
    (its first rows are kept). Repeated configurations are served from the cache for free.
    """

    def __init__(
        self,
        choices: list[int],
        evaluate: Callable[[np.ndarray], np.ndarray],
        budget: int,
        on_batch: Callable[[int], None] | None = None,
    ):
        self.choices = choices
        self.evaluate = evaluate
        self.budget = budget
        self.on_batch = on_batch
        self.cache: dict[tuple[int, ...], np.ndarray] = {}
        self.configs: list[np.ndarray] = []
        self.objectives: list[np.ndarray] = []
        self.rounds: list[dict] = []
        self.n_obj: int | None = None

    @property
    def remaining(self) -> int:
        return self.budget - len(self.cache)

    def seen(self, config) -> bool:
        return tuple(int(v) for v in config) in self.cache

    def lookup(self, configs: np.ndarray) -> np.ndarray:
        return np.array([self.cache[tuple(int(v) for v in c)] for c in configs])

    def run(self, configs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Evaluate the not-yet-seen rows of `configs` in one `evaluate` call (within budget).

        Returns (new_configs, new_objectives); both empty if nothing new was evaluated.
        """
        new, keys = [], set()
        for c in np.asarray(configs, dtype=np.int64).reshape(-1, len(self.choices)):
            key = tuple(int(v) for v in c)
            if key not in self.cache and key not in keys:
                keys.add(key)
                new.append(c)
        new = np.array(new[: max(self.remaining, 0)], dtype=np.int64).reshape(-1, len(self.choices))
        if len(new) == 0:
            return new, np.zeros((0, self.n_obj or 0))
        f = np.asarray(self.evaluate(new.copy()), dtype=float)
        if f.ndim == 1 and self.n_obj in (None, 1):
            f = f[:, None]
        m = self.n_obj or (f.shape[1] if f.ndim == 2 else 0)
        if f.shape != (len(new), m) or m < 1:
            raise SparsearchError(
                f"evaluate returned shape {f.shape} for {len(new)} configurations; expected [{len(new)}, objectives]"
                + (f" with {self.n_obj} objectives as before" if self.n_obj else "")
            )
        if not np.all(np.isfinite(f)):
            raise SparsearchError("evaluate returned non-finite objectives; return finite values (all minimized)")
        self.n_obj = m
        for c, y in zip(new, f):
            self.cache[tuple(int(v) for v in c)] = y
        self.configs.append(new)
        self.objectives.append(f)
        self.rounds.append({"round": len(self.rounds), "new": len(new), "evaluations": len(self.cache)})
        if self.on_batch is not None:
            self.on_batch(len(self.cache))
        return new, f

    def random_unseen(self, rng: np.random.Generator, n: int, exclude: set | None = None) -> np.ndarray:
        """Up to `n` distinct uniformly random configurations neither evaluated nor in `exclude`."""
        taken = set(exclude or ())
        out: list[tuple[int, ...]] = []
        hi = np.array(self.choices)
        for _ in range(20):
            need = n - len(out)
            if need <= 0:
                break
            for row in rng.integers(0, hi, size=(2 * need + 8, len(hi))):
                key = tuple(int(v) for v in row)
                if key not in self.cache and key not in taken:
                    taken.add(key)
                    out.append(key)
                    if len(out) == n:
                        break
        if len(out) < n and space_size(self.choices) <= 2**22:  # dense: enumerate what is left
            flat = rng.permutation(space_size(self.choices))
            for idx in flat:
                key = tuple(int(v) for v in np.unravel_index(idx, self.choices))
                if key not in self.cache and key not in taken:
                    taken.add(key)
                    out.append(key)
                    if len(out) == n:
                        break
        return np.array(out, dtype=np.int64).reshape(-1, len(self.choices))

    def log(self, strategy: str, seed: int) -> SearchLog:
        d, m = len(self.choices), self.n_obj or 0
        configs = np.concatenate(self.configs) if self.configs else np.zeros((0, d), dtype=np.int64)
        objectives = np.concatenate(self.objectives) if self.objectives else np.zeros((0, m))
        return SearchLog(configs, objectives, self.rounds, strategy=strategy, seed=seed)
