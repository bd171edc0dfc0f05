"""The public API: the docs' notebook example, your own arm and data, data in the trial key,
networks back as modules, resumable arm training."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch

import sparsearch
from sparsearch.arms import ARMS
from sparsearch.data import LOADERS, load_dataset
from sparsearch.progress import Progress

DOCS = Path(__file__).resolve().parents[1] / "docs" / "api.md"


@pytest.fixture(autouse=True)
def _registries():
    """Registrations made by a test do not outlive it."""
    arms, loaders = dict(ARMS), dict(LOADERS)
    yield
    ARMS.clear(), ARMS.update(arms), LOADERS.clear(), LOADERS.update(loaders)


def test_the_docs_notebook_example_runs(tmp_path, monkeypatch):
    text = DOCS.read_text()
    example = text[text.index("## A complete example"):]
    blocks = re.findall(r"```python\n(.*?)```", example, flags=re.S)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile("\n".join(blocks), str(DOCS), "exec"), namespace)
    assert (tmp_path / "notebook-report" / "index.html").exists()
    assert set(namespace["trials"].arm) == {"dense", "random", "largest_norm"}


def test_readme_shows_the_three_line_notebook_use():
    readme = (DOCS.parents[1] / "README.md").read_text()
    assert "study = sparsearch.run(" in readme and "study.trials()" in readme and "study.compare()" in readme


TOY_PLUGIN = '''
import numpy as np
import sparsearch
from sparsearch.spaces.node import NodeMask


@sparsearch.register_arm
class FirstUnits(sparsearch.PerSeedArm):
    """Keep the first units of every hidden layer."""
    name = "first_units"
    spaces = ("node",)

    def choose(self, request, seed):
        keep = tuple(tuple(range(w - round(request.sparsity * w))) for w in request.hidden)
        return sparsearch.at_init(request, seed, NodeMask(keep))


def xor_like(cfg):
    rng = np.random.default_rng(cfg.seed + 1)
    x = rng.normal(size=(cfg.samples or 300, 6))
    return x, ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.int64)


sparsearch.register_dataset("xor_like", xor_like)
'''


def test_a_toy_arm_and_a_numpy_dataset_registered_outside_the_package_run_end_to_end(tmp_path, monkeypatch):
    (tmp_path / "my_plugin.py").write_text(TOY_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    import my_plugin  # noqa: F401  (registers on import)

    config = {"experiment": {"name": "toy", "seeds": 3}, "data": {"name": "xor_like", "samples": 400},
              "parent": {"hidden": [12, 6]}, "train": {"epochs": 4},
              "search": {"sparsities": [0.5], "arms": ["dense", "random", "first_units"]}}
    study = sparsearch.run(config, store=tmp_path / "toy.db")
    trials = study.trials()
    assert len(trials) == 3 + 3 + 3 and set(trials.dataset) == {"xor_like"}
    first = trials[trials.arm == "first_units"]
    assert (first.node_sparsity == 0.5).all() and (first.status == "ok").all()
    comparisons = study.compare()
    assert {("first_units", "random"), ("first_units", "dense")} <= set(zip(comparisons.arm, comparisons.baseline))
    with pytest.raises(sparsearch.SparsearchError, match=r"^search.arms: unknown arm 'last_units'; known: .*first_units"):
        sparsearch.run({**config, "search": {"sparsities": [0.5], "arms": ["last_units"]}}, store=tmp_path / "toy.db")


def arrays(seed: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(300, 8)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


SMALL = {"experiment": {"name": "arrays", "seeds": 2}, "parent": {"hidden": [8]}, "train": {"epochs": 2},
         "search": {"sparsities": [0.5], "arms": ["dense", "random"]}}


def test_a_dataset_passed_as_arrays_never_reuses_trials_of_different_arrays(tmp_path):
    store = tmp_path / "s.db"
    first = sparsearch.run(SMALL, store=store, data=sparsearch.Dataset.from_arrays(*arrays(0), name="mine"))
    assert (first.outcome.trained, first.outcome.reused) == (4, 0)
    other = sparsearch.run(SMALL, store=store, data=sparsearch.Dataset.from_arrays(*arrays(1), name="mine"))
    assert (other.outcome.trained, other.outcome.reused) == (4, 0)
    assert set(other.trials().trial_key).isdisjoint(first.outcome.rows[i]["trial_key"] for i in range(4))
    same = sparsearch.run(SMALL, store=store, data=sparsearch.Dataset.from_arrays(*arrays(0), name="mine"))
    assert (same.outcome.trained, same.outcome.reused) == (0, 4)
    assert set(same.trials().dataset) == {"mine"} and 'name = "mine"' in sparsearch.Store.open(store).config_of("arrays")


def test_from_arrays_refuses_bad_arrays_in_one_line():
    x, y = arrays(0)
    with pytest.raises(sparsearch.SparsearchError, match=r"^bad: y must be 300 non-negative integer labels, got shape \(299,\)"):
        sparsearch.Dataset.from_arrays(x, y[:-1], name="bad")
    with pytest.raises(sparsearch.SparsearchError, match="NaN or infinite"):
        sparsearch.Dataset.from_arrays(np.where(x > 2, np.nan, x), y, name="nan")


class Interrupt(Progress):
    """Stops a run (as Ctrl-C would) when a phase with this label begins; records phases."""

    def __init__(self, stop_at: str | None = None):
        self.stop_at, self.phases = stop_at, []

    def phase(self, label, total):
        self.phases.append(label)
        if label == self.stop_at:
            raise KeyboardInterrupt


LOTTERY = {"experiment": {"name": "tickets", "seeds": 3}, "data": {"name": "synthetic", "samples": 300},
           "parent": {"hidden": [16, 8]}, "train": {"epochs": 3, "batch_size": 32},
           "search": {"space": "weight", "sparsities": [0.5, 0.7], "arms": ["dense", "lottery", "lottery_random"]}}
ROUNDS = ["trained parents"] + [f"lottery round {r}" for r in range(2, 7)]
"""Rounds 2-4 train at 0.2, 0.36, 0.488 (the 0.5 ticket prunes round 4's weights), 5-6 at 0.59, 0.672."""


def test_an_interrupted_lottery_resumes_without_retraining_finished_rounds(tmp_path):
    store = tmp_path / "s.db"
    first = Interrupt(stop_at="lottery round 4")
    with pytest.raises(KeyboardInterrupt):
        sparsearch.run(LOTTERY, store=store, progress=first)
    assert [p for p in first.phases if p in ROUNDS] == ROUNDS[:4]  # stopped as round 4 began
    resumed = Interrupt()
    study = sparsearch.run(LOTTERY, store=store, progress=resumed)
    assert [p for p in resumed.phases if p in ROUNDS] == ROUNDS[3:]  # rounds 2 and 3 came from the store
    assert study.outcome.pretrained == 3 * 3  # rounds 4, 5 and 6 of three seeds
    fresh = sparsearch.run(LOTTERY, store=tmp_path / "fresh.db")
    columns = ["arm", "sparsity", "seed", "test_acc", "best_val_acc", "weight_sparsity", "trial_key"]
    assert study.trials()[columns].equals(fresh.trials()[columns])
    again = Interrupt()
    assert sparsearch.run(LOTTERY, store=store, progress=again).outcome.pretrained == 0


def test_weight_space_networks_load_with_prune_buffers_and_reproduce_their_accuracy(tmp_path):
    config = {**LOTTERY, "search": {**LOTTERY["search"], "arms": ["dense", "random"], "sparsities": [0.8]},
              "store": {"save_weights": True}}
    study = sparsearch.run(config, store=tmp_path / "s.db")
    test = load_dataset(study.config.data)
    for row in study.trials().itertuples():
        net = sparsearch.load_network(tmp_path / "s.db", row.trial_key, "final")
        linears = [m for m in net if isinstance(m, torch.nn.Linear)]
        assert all(hasattr(m, "weight_mask") and hasattr(m, "weight_orig") for m in linears)
        kept = sum(int(m.weight_mask.sum()) for m in linears)
        total = sum(m.weight_mask.numel() for m in linears)
        assert kept == total - round(row.sparsity * total)
        assert all(torch.equal(m.weight, m.weight_orig * m.weight_mask) for m in linears)
        with torch.no_grad():
            accuracy = (net(test.x_test).argmax(1) == test.y_test).float().mean().item()
        assert accuracy == pytest.approx(row.final_test_acc, abs=1e-6)
    with pytest.raises(sparsearch.SparsearchError, match="no trial 'nope'"):
        study.network("nope")


def test_run_leaves_torch_settings_as_it_found_them(tmp_path):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(False)
    sparsearch.run({**SMALL, "engine": {"threads": 2}}, store=tmp_path / "s.db",
                   data=sparsearch.Dataset.from_arrays(*arrays(0)))
    assert torch.get_num_threads() == 1 and not torch.are_deterministic_algorithms_enabled()


def test_the_config_schema_does_not_import_the_arms():
    import ast

    import sparsearch.config

    tree = ast.parse(Path(sparsearch.config.__file__).read_text())
    imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported and not any("arms" in module for module in imported)
