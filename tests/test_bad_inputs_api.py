"""The Python API refuses what a user can get wrong as the CLI does: one `SparsearchError` line
naming the argument and quoting the value, never a raw TypeError, pydantic dump or user
traceback, and never after the store was touched. Each case calls the API in-process with a
copy of a store holding a finished experiment, whose bytes must come out unchanged."""

import hashlib
import shutil

import numpy as np
import pytest
from torch import nn

import sparsearch
import sparsearch.arms as arms
import sparsearch.data as data
import sparsearch.nets as nets
from conftest import BASE
from sparsearch import Dataset, SparsearchError

CONFIG = {**BASE, "experiment": {"name": "other", "seeds": 2}}
"""An experiment the finished store lacks: a run that got past its checks would write it."""

X = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
Y = np.arange(60) % 3


def boom(*args):
    raise RuntimeError("kaboom\nat line two")


class SevenLogits(nn.Module):
    """A module whose output width (7) is not the data's class count (4)."""

    def __init__(self, shape, n_classes):
        super().__init__()
        self.linear = nn.Linear(shape[0], 7)

    def forward(self, x):
        return self.linear(x)


def run_with(path, **arguments):
    """`sparsearch.run` of CONFIG on the store at `path`, with `arguments` replacing either."""
    sparsearch.run(arguments.pop("config", CONFIG), store=arguments.pop("store", path), **arguments)


def run_registered(path, register, config):
    """Register a loader or parent, then run CONFIG with `config`'s tables replacing its own."""
    register()
    run_with(path, config={**CONFIG, **config})


def register_arm_named(name):
    return sparsearch.register_arm(type("Mine", (arms.Random,), {"name": name}))


CASES = {  # id: (call with the store copy, a fragment of the message, the quoted bad value)
    "run store=123": (lambda s: run_with(s, store=123), "store must be a path", "123"),
    "run config=123": (lambda s: run_with(s, config=123), "config must be a Config", "123"),
    "run progress='yes'": (lambda s: run_with(s, progress="yes"), "progress must be", "'yes'"),
    "run replace='yes'": (lambda s: run_with(s, replace="yes"), "replace must be True or False", "'yes'"),
    "run data='digits'": (lambda s: run_with(s, data="digits"), "data must be a sparsearch.Dataset", "'digits'"),
    "from_arrays val_fraction 1.5": (lambda s: Dataset.from_arrays(X, Y, val_fraction=1.5), "val_fraction", "1.5"),
    "from_arrays test_fraction 0": (lambda s: Dataset.from_arrays(X, Y, test_fraction=0), "test_fraction", "got 0"),
    "from_arrays seed -1": (lambda s: Dataset.from_arrays(X, Y, seed=-1), "seed", "-1"),
    "from_arrays name 123": (lambda s: Dataset.from_arrays(X, Y, name=123), "name", "123"),
    "from_arrays one class": (lambda s: Dataset.from_arrays(X, np.full(60, 3)), "one class", "(3)"),
    "from_arrays y_test without x_test": (lambda s: Dataset.from_arrays(X, Y, y_test=Y), "without x_test", "y_test"),
    "from_arrays no features": (lambda s: Dataset.from_arrays(X[:, :0], Y), "at least one of each", "(60, 0)"),
    "from_arrays no examples": (lambda s: Dataset.from_arrays(X[:0], Y[:0]), "at least one of each", "(0, 4)"),
    "from_arrays label 2e9": (lambda s: Dataset.from_arrays(X, Y * 10**9), "class indices", "2000000000"),
    "loader raises": (lambda s: run_registered(s, lambda: sparsearch.register_dataset("api_boom", boom),
                                               {"data": {"name": "api_boom"}}),
                      "registered dataset 'api_boom' failed", "RuntimeError: kaboom at line two"),
    "loader returns one class": (lambda s: run_registered(
        s, lambda: sparsearch.register_dataset("api_one", lambda cfg: (X, np.zeros(60, dtype=np.int64))),
        {"data": {"name": "api_one"}}), "one class", "(0)"),
    "parent factory raises": (lambda s: run_registered(s, lambda: sparsearch.register_parent("api_boom", boom),
                                                       {"parent": {"kind": "api_boom"}}),
                              "registered parent 'api_boom' failed", "RuntimeError: kaboom at line two"),
    "module output width 7 of 4 classes": (lambda s: run_registered(
        s, lambda: sparsearch.register_parent("api_seven", SevenLogits), {"parent": {"kind": "api_seven"}}),
        "'api_seven': the module's output width must be the data's 4 classes", "[2, 7]"),
    "register_arm named random": (lambda s: register_arm_named("random"), "built-in arm", "'random'"),
    "register_arm named dense": (lambda s: register_arm_named("dense"), "built-in arm", "'dense'"),
}


@pytest.fixture(autouse=True)
def _own_registries(monkeypatch):
    """Registrations of these cases stay in the test (and a replaced control arm, before the fix)."""
    monkeypatch.setattr(arms, "ARMS", dict(arms.ARMS))
    monkeypatch.setattr(data, "LOADERS", dict(data.LOADERS))
    monkeypatch.setattr(nets, "PARENTS", dict(nets.PARENTS))


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("call, fragment, quoted", CASES.values(), ids=CASES.keys())
def test_the_api_refuses_in_one_line_before_the_store(call, fragment, quoted, tmp_path, finished_store):
    store = tmp_path / "s.db"
    shutil.copy(finished_store, store)
    before = sha256(store)
    with pytest.raises(SparsearchError) as refused:
        call(store)
    message = str(refused.value)
    assert "\n" not in message and fragment in message and quoted in message, message
    assert sha256(store) == before and sorted(tmp_path.iterdir()) == [store]


def test_a_registered_loader_failure_keeps_its_cause():
    sparsearch.register_dataset("api_boom", boom)
    with pytest.raises(SparsearchError) as refused:
        data.load_dataset(sparsearch.Config.model_validate({"data": {"name": "api_boom"}}).data)
    assert isinstance(refused.value.__cause__, RuntimeError)


def test_a_users_arm_may_be_registered_again_under_its_own_name():
    first, again = register_arm_named("api_mine"), register_arm_named("api_mine")
    assert arms.ARMS["api_mine"] is again is not first
