import pytest
import torch

from sparsearch.arms import ARMS
from sparsearch.arms.lottery import Lottery
from sparsearch.arms.random_search import RandomSearch
from sparsearch.config import Config, DataConfig, ParentConfig, SearchConfig, TrainConfig
from sparsearch.engine.probe import probe_scores
from sparsearch.probes import PROBES
from sparsearch.errors import SparsearchError
from sparsearch.mask.study import Planning
from sparsearch.nets.mlp import init_parent, parent_widths
from sparsearch.seeding import generator
from sparsearch.spaces.node import full_mask, sample_mask


def config(probe="init_loss", seeds=1):
    return Config(
        experiment={"seeds": seeds},
        data=DataConfig(name="synthetic", samples=400),
        parent=ParentConfig(hidden=[20, 10]),
        train=TrainConfig(epochs=2),
        search=SearchConfig(sparsities=[0.5], probe_batch=50),
        arms={"random_search": {"candidates": 12, "probe": probe, "probe_steps": 2}},
    )


def test_dense_keeps_everything_at_sparsity_zero_only(synthetic):
    planning = Planning(config(), synthetic)
    assert ARMS["dense"]().sparsities([0.5, 0.9]) == [0.0]
    assert planning.plan("dense", 0.0)[0].mask == full_mask((20, 10))


def test_random_draws_one_mask_per_seed_at_the_sparsity_from_its_stream(synthetic):
    plans = Planning(config(seeds=3), synthetic).plan("random", 0.5)
    for seed, plan in enumerate(plans):
        assert plan.mask == sample_mask((20, 10), 0.5, generator("mask", "random", seed, 0.5))
        assert plan.start_spec == {"init": seed}


def test_random_search_keeps_the_lowest_probe_loss_candidate(synthetic):
    for probe in ("init_loss", "steps"):
        planning = Planning(config(probe, seeds=4), synthetic)
        chosen = planning.plan("random_search", 0.5)[3].mask
        # redraw the same candidates and score them independently of the arm
        rng = generator("mask", "random_search", 3, 0.5)
        masks = [sample_mask((20, 10), 0.5, rng) for _ in range(12)]
        probe_idx = torch.randperm(synthetic.x_train.shape[0], generator=generator("probe-batch", 3))[:50]
        widths = parent_widths(synthetic.n_features, [20, 10], synthetic.n_classes)
        losses = -probe_scores(planning.trainer, init_parent(widths, 3), masks, probe_idx, PROBES[probe],
                               steps=2, order_seed=3)
        assert chosen == masks[int(losses.argmin())]
        assert losses.min() < losses.median()  # the pick is not merely the first draw


def test_arms_hold_their_settings_like_estimators():
    arm = Lottery(prune_rate=0.3, rewind_epoch=2)
    assert arm.params.prune_rate == 0.3 and arm.params.rewind_epoch == 2
    assert repr(arm) == "Lottery(prune_rate=0.3, rewind_epoch=2)"
    assert arm.spec() == {"name": "lottery", "params": {"prune_rate": 0.3, "rewind_epoch": 2}}
    assert RandomSearch().params.candidates == 100
    with pytest.raises(SparsearchError, match=r"^arms.lottery.prune_rate: Input should be less than 1$"):
        Lottery(prune_rate=1.5)
    with pytest.raises(SparsearchError, match=r"^arms.lottery.rate: unknown setting; lottery takes: prune_rate, rewind_epoch, pattern$"):
        Lottery(rate=0.2)


def test_every_built_in_arm_s_full_settings_write_as_toml_and_read_back_to_the_same_arm():
    """`config --check` and the stored config write each arm's settings in full; TOML has no
    null, so an unset optional setting is left out and reads back unset."""
    from sparsearch.arms import BUILT_IN, with_arm_settings
    from sparsearch.config import config_from_dict, to_toml
    import tomllib

    for cls in BUILT_IN:
        space = cls.spaces[0]
        raw = {"search": {"space": space, "arms": [cls.name], **({"allocation": "global"} if space == "weight" else {})}}
        full = with_arm_settings(config_from_dict(raw))
        again = config_from_dict(tomllib.loads(to_toml(full)))
        assert ARMS[cls.name](**again.arms.get(cls.name, {})).params == cls().params, cls.name
