"""Trial keys are pinned: every spec encodes to the JSON earlier releases hashed, so stored
trials, trainings, super-networks and searches stay reusable. The literal digests below are
those the pre-redesign code (`sha256(json.dumps(spec, sort_keys=True))` of the dicts it built)
gives for these inputs, except the search's: it changed deliberately when every search began to
evaluate the largest and the smallest sub-network first (`anchors`, issue 25)."""

from dataclasses import replace

import pytest

from sparsearch.specs import RunSpec, SearchSpec, SupernetSpec, TrainingSpec, TrialSpec, canonical_key

RUN = RunSpec(2, "digits", "ab" * 32, {"kind": "mlp", "widths": [64, 300, 100, 10]},
              {"epochs": 20, "lr": 0.1, "optimizer": "sgd"})
BASE = {"recipe_version": 2, "data": {"name": "digits", "fingerprint": "ab" * 32},
        "parent": {"kind": "mlp", "widths": [64, 300, 100, 10]}, "train": {"epochs": 20, "lr": 0.1, "optimizer": "sgd"}}

CASES = {
    "node trial": (
        TrialSpec(RUN, "node", {"name": "random", "params": {}}, [[0, 2], [1]], {"init": 3}, None, 3),
        {**BASE, "space": "node", "arm": {"name": "random", "params": {}}, "mask": [[0, 2], [1]], "start": {"init": 3},
         "hook": None, "order_seed": 3},
        "5110fc9163a40341ed759ee9bed19b933f0ae0fb47cdecd6e6194a69dde031aa"),
    "bf16 weight trial": (
        TrialSpec(replace(RUN, precision="bf16"), "weight", {"name": "magnitude", "params": {"rewind": "init"}}, "cd" * 32, {"init": 1}, {"gmp": 5}, 1),
        {**BASE, "precision": "bf16", "space": "weight", "arm": {"name": "magnitude", "params": {"rewind": "init"}},
         "mask": "cd" * 32, "start": {"init": 1}, "hook": {"gmp": 5}, "order_seed": 1},
        "07ec91010d41d220ea61bcc92571fac6a2d91ea62caecc7daddd1fbe78006a3b"),
    "trained parent": (
        TrainingSpec(RUN, {"init": 4}, 4, 20, None),
        {**BASE, "start": {"init": 4}, "order_seed": 4, "epochs": 20, "mask": None, "what": "weights"},
        "b4df7242dbb75adacb1fd569a2f86c507836a1ca90066faa367c06f432d45102"),
    "super-network": (
        SupernetSpec(2, "digits", "ab" * 32, (64, 300, 100, 10), (0.25, 0.5, 1.0), 0, {"epochs": 20}, {"epochs": 30}),
        {"recipe_version": 2, "sandwich_loss": "sum, per-weight mean gradient",
         "data": {"name": "digits", "fingerprint": "ab" * 32}, "parent": [64, 300, 100, 10],
         "widths": [0.25, 0.5, 1.0], "seed": 0, "train": {"epochs": 20}, "supernet": {"epochs": 30}},
        "9e0e7b998383445fee75e81adbf93127096def453cb124ea325f00d748233fb2"),
    "search": (
        SearchSpec("ef" * 32, "nsga2", 1, ("flops",), 40, 20, "ridge", 1),
        {"supernet": "ef" * 32, "strategy": "nsga2", "seed": 1, "objectives": ["flops"], "evaluations": 40,
         "population": 20, "predictor": "ridge", "latency_batch": 1, "anchors": "largest and smallest first"},
        "9a046a0a90c3d376c39d9755d99d7c5d48ba4a90e6566fbaefac2cbc3b4dd2bd"),
}


@pytest.mark.parametrize("spec, stored, key", CASES.values(), ids=CASES.keys())
def test_a_spec_encodes_and_keys_as_earlier_releases_did(spec, stored, key):
    assert spec.to_json() == stored
    assert canonical_key(stored) == key
    assert spec.key == key


def test_arms_that_gained_optional_settings_record_what_they_recorded_before():
    """`budget` (issue 23) is unset by default and left out, so stored random_search and oracle
    trials keep their keys."""
    from sparsearch.arms import ARMS

    assert ARMS["random_search"]().spec() == {"name": "random_search", "params": {
        "candidates": 100, "probe": "init_loss", "probe_steps": 10, "early_epochs": 3, "audit": 0}}
    assert ARMS["oracle"]().spec() == {"name": "oracle", "params": {"candidates": 100}}
    assert ARMS["oracle"](budget=5.0).spec() == {"name": "oracle", "params": {"candidates": 100, "budget": 5.0}}


def test_a_changed_field_changes_the_key():
    spec, _, key = CASES["node trial"]
    assert TrialSpec(spec.run, spec.space, spec.arm, spec.mask, spec.start, spec.hook, 4).key != key


def test_a_trial_trained_for_other_than_the_recipe_epochs_keys_its_epochs():
    spec, stored, key = CASES["node trial"]
    longer = replace(spec, epochs=40)
    assert longer.to_json() == {**stored, "epochs": 40}
    assert longer.key == canonical_key({**stored, "epochs": 40}) != key
