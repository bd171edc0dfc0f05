"""Objective predictors for predictor-guided sub-network search.

LINAS (Cummings et al. 2022, "A Hardware-Aware System for Accelerating Deep Neural Network
Optimization") fits cheap regressors on one-hot encoded super-network configurations
and measures them by rank correlation (Kendall tau), since the search only needs the
predicted *ordering* of candidates to be right.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from ..errors import SparsearchError

KINDS = ("ridge", "mlp")


class Predictor:
    """Regressor from integer configurations [n, D] to targets [n] or [n, T].

    `kind="ridge"`: sklearn Ridge (alpha 1.0) on one-hot encoded choices (default).
    `kind="mlp"`: sklearn MLPRegressor (one hidden layer of 64, random_state 0) on the same
    encoding, with standardized targets.
    """

    def __init__(self, choices: Sequence[int], kind: str = "ridge"):
        if kind not in KINDS:
            raise SparsearchError(f"unknown predictor {kind!r}; choose one of {', '.join(KINDS)}")
        self.choices = [int(c) for c in choices]
        self.kind = kind
        self._offsets = np.concatenate([[0], np.cumsum(self.choices)[:-1]]).astype(int)
        self._model = None

    def encode(self, configs: np.ndarray) -> np.ndarray:
        """One-hot encoding [n, sum(choices)] of configurations [n, D]."""
        x = np.asarray(configs, dtype=int).reshape(-1, len(self.choices))
        out = np.zeros((len(x), sum(self.choices)))
        out[np.arange(len(x))[:, None], x + self._offsets] = 1.0
        return out

    def fit(self, configs: np.ndarray, targets: np.ndarray) -> Predictor:
        y = np.asarray(targets, dtype=float)
        if len(y) != len(configs) or len(y) == 0:
            raise SparsearchError(f"predictor needs >= 1 configs with one target row each, got {len(configs)} and {len(y)}")
        x = self.encode(configs)
        if self.kind == "ridge":
            from sklearn.linear_model import Ridge

            self._model = Ridge(alpha=1.0).fit(x, y)
            self._mu, self._sd = 0.0, 1.0
        else:
            from sklearn.exceptions import ConvergenceWarning
            from sklearn.neural_network import MLPRegressor

            self._mu, self._sd = y.mean(axis=0), y.std(axis=0) + 1e-12
            model = MLPRegressor(hidden_layer_sizes=(64,), max_iter=500, random_state=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                self._model = model.fit(x, (y - self._mu) / self._sd)
        return self

    def predict(self, configs: np.ndarray) -> np.ndarray:
        if self._model is None:
            raise SparsearchError("predictor is not fitted; call fit(configs, targets) first")
        return self._model.predict(self.encode(configs)) * self._sd + self._mu


def kendall_tau(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Kendall tau-b between predictions and actual values (scipy.stats.kendalltau).

    NaN-safe: pairs with a non-finite value are dropped; returns NaN when fewer than two
    pairs remain or either side is constant.
    """
    p = np.asarray(predicted, dtype=float).reshape(-1)
    a = np.asarray(actual, dtype=float).reshape(-1)
    if p.shape != a.shape:
        raise SparsearchError(f"kendall_tau needs equal lengths, got {p.size} and {a.size}")
    keep = np.isfinite(p) & np.isfinite(a)
    p, a = p[keep], a[keep]
    if len(p) < 2 or np.ptp(p) == 0 or np.ptp(a) == 0:
        return float("nan")
    from scipy.stats import kendalltau

    return float(kendalltau(p, a).statistic)
