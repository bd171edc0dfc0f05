"""The structured node-space arms (arms/structured.py): each keeps the nodes its criterion
ranks highest on the trained parent of its seed (scored with every seed in one population,
checked against the formulas on each network alone), the start modes of Liu et al. 2019
(init, fine-tuning for other epochs, Scratch-E, Scratch-B's FLOPs budget), a stored run that
resumes without training, and one-line refusals."""

import pytest
import torch

from sparsearch.api import run
from sparsearch.arms.training import trained_spec
from sparsearch.config import config_from_dict, to_toml
from sparsearch.errors import SparsearchError
from sparsearch.mask.study import Planning, validate
from sparsearch.saliency import one
from sparsearch.seeding import stable_seed
from sparsearch.spaces.node import mask_from_unit_scores
from sparsearch.store import Store
from sparsearch.unit_importance import taylor

from refusal import refused


def config(arms=None, names=("l1_norm", "taylor", "fpgm"), seeds=2, epochs=3):
    return config_from_dict({
        "experiment": {"name": "structured", "seeds": seeds},
        "data": {"name": "synthetic", "samples": 300},
        "parent": {"hidden": [16, 8]},
        "train": {"epochs": epochs, "batch_size": 32},
        "search": {"space": "node", "sparsities": [0.5], "arms": list(names)},
        "arms": arms or {},
    })


def test_each_criterion_keeps_the_nodes_it_ranks_highest_on_each_seed_s_trained_parent(synthetic):
    planning = Planning(config(seeds=3), synthetic)
    parents = planning.cache.trained_parents((0, 1, 2))
    for seed in range(3):
        trained = parents[seed][0]
        filters = [w.t() for w, _ in trained[:-1]]  # an MLP's weights are [in, out]: a unit's filter is a column
        x, y = planning.request(0.5).probe_data(seed)
        alone = taylor(planning.trainer.parent, one(trained), x[None], y[None])
        expected = {
            "l1_norm": [f.abs().sum(1) for f in filters],
            "fpgm": [torch.cdist(f, f).sum(1) for f in filters],
            "taylor": [s[0] for s in alone[:-1]],
        }
        for arm, scores in expected.items():
            plan = planning.plan(arm, 0.5)[seed]
            assert plan.mask == mask_from_unit_scores(scores, 0.5), (arm, seed)
            assert plan.start_spec == {"init": seed} and plan.epochs is None
    (global_plan,) = Planning(config({"l1_global": {"arm": "l1_norm", "allocation": "global"}}, ["l1_global"],
                                     seeds=1), synthetic).plan("l1_global", 0.5)
    trained = parents[0][0]
    assert global_plan.mask == mask_from_unit_scores([w.abs().sum(0) for w, _ in trained[:-1]], 0.5, "global")


def test_start_modes_fine_tune_reinitialise_or_scale_epochs_by_the_flops_saved(synthetic):
    arms = {"tuned": {"arm": "l1_norm", "start": "trained", "finetune_epochs": 2},
            "scratch_e": {"arm": "l1_norm", "start": "reinit"},
            "scratch_b": {"arm": "l1_norm", "start": "reinit", "budget": "flops"},
            "init_b": {"arm": "l1_norm", "budget": "flops"}}
    planning = Planning(config(arms, list(arms), seeds=2, epochs=3), synthetic)
    parents = planning.cache.trained_parents((0, 1))
    plain = planning.plan("l1_norm", 0.5)
    widths = planning.trainer.parent.widths
    for seed in range(2):
        tuned, scratch_e, scratch_b, init_b = (planning.plan(name, 0.5)[seed] for name in arms)
        assert tuned.mask == scratch_e.mask == scratch_b.mask == init_b.mask == plain[seed].mask
        assert tuned.start_spec == trained_spec(seed, 3) and tuned.epochs == 2
        assert all(torch.equal(a, b) for a, b in zip(tuned.start[0], parents[seed][0][0]))
        assert scratch_e.start_spec == {"reinit": seed} and scratch_e.epochs is None
        fresh = planning.trainer.parent.init(stable_seed("reinit", seed))
        assert torch.equal(scratch_e.start[0][0], fresh[0][0])
        assert not torch.equal(scratch_e.start[0][0], planning.cache.parent(seed)[0][0])
        # FLOPs are 2 per weight: the kept network has half of each hidden layer
        kept = (widths[0], 8, 4, widths[-1])
        ratio = sum(a * b for a, b in zip(widths, widths[1:])) / sum(a * b for a, b in zip(kept, kept[1:]))
        assert scratch_b.epochs == init_b.epochs == round(3 * min(ratio, 2.0)) == 6
        assert scratch_b.start_spec == {"reinit": seed} and init_b.start_spec == {"init": seed}


def test_a_run_stores_fine_tuned_trials_at_their_epochs_and_a_rerun_trains_nothing(tmp_path):
    arms = {"tuned": {"arm": "l1_norm", "start": "trained", "finetune_epochs": 2},
            "scratch_b": {"arm": "fpgm", "start": "reinit", "budget": "flops"}}
    cfg = config(arms, ["dense", "taylor", *arms])
    path = tmp_path / "s.db"
    first = run(cfg, store=path)
    with Store.open(path) as store:
        rows, curves = store.trial_rows("structured")
    lengths = {r["arm"]: len(curves[r["trial_key"]]) for r in rows}
    assert lengths == {"dense": 3, "taylor": 3, "tuned": 2, "scratch_b": 6}
    assert {r["status"] for r in rows} == {"ok"} and len(rows) == 8
    again = run(cfg, store=path)
    assert again.outcome.trained == 0 and again.outcome.pretrained == 0
    assert [r["test_acc"] for r in again.outcome.rows] == [r["test_acc"] for r in first.outcome.rows]


@pytest.mark.parametrize("arms, message", [
    ({"l1_norm": {"finetune_epochs": 3}}, r"^arms.l1_norm: finetune_epochs applies with start = 'trained' only, got "
                                          r"start = 'init'$"),
    ({"taylor": {"start": "trained", "budget": "flops"}}, r"^arms.taylor: budget = 'flops' \(Scratch-B\) trains from"),
    ({"fpgm": {"allocation": "erk"}}, r"^arms.fpgm.allocation: Input should be 'uniform' or 'global'"),
])
def test_settings_that_do_not_fit_are_one_line_errors(arms, message):
    with pytest.raises(SparsearchError, match=message):
        validate(config(arms))


def test_slimming_on_a_parent_without_batchnorm_is_refused_before_the_store(tmp_path, finished_store):
    cfg = config(names=("dense", "slimming"))
    line = refused(["run", "c.toml", "--store", "{store}"], tmp_path, finished_store,
                   files={"c.toml": to_toml(cfg)})
    assert line == ("error: arms.slimming: ranks nodes by their BatchNorm scale, and parent kind 'mlp' has no "
                    "BatchNorm; use resnet20 or another arm (l1_norm, taylor, fpgm)")


def test_slimming_keeps_each_inner_group_s_channels_of_largest_batchnorm_scale_on_resnet20():
    import sparsearch
    from test_resnet20 import SMALL, blob_arrays

    data = sparsearch.Dataset.from_arrays(*blob_arrays(120), name="blobs3")
    cfg = config_from_dict({"experiment": {"seeds": 1}, "parent": {"kind": "resnet20", "channels": SMALL},
                            "train": {"epochs": 1, "batch_size": 32},
                            "search": {"space": "node", "sparsities": [0.5], "arms": ["slimming"]}})
    planning = Planning(cfg, data)
    (plan,) = planning.plan("slimming", 0.5)
    trained, _ = planning.cache.trained_parents((0,))[0]
    module = planning.trainer.parent.module(trained)
    groups = planning.trainer.parent.groups
    for stage in (1, 2, 3):
        for block in range(3):
            gamma = getattr(module, f"layer{stage}")[block].bn1.weight.detach().abs()
            kept = plan.mask.keep[(stage - 1) * 4 + 1 + block]  # groups: S1, its 3 inner groups, S2, ...
            expected = torch.topk(gamma, len(gamma) - round(0.5 * len(gamma))).indices.sort().values.tolist()
            assert list(kept) == expected and len(gamma) == groups[(stage - 1) * 4 + 1 + block]
