import torch

from sparsearch.arms import ARMS, MaskRequest
from sparsearch.arms.base import arm_stream
from sparsearch.config import Config, DataConfig, ParentConfig, SearchConfig, TrainConfig
from sparsearch.engine.probe import probe_losses
from sparsearch.nets.mlp import init_parent, parent_widths
from sparsearch.seeding import generator
from sparsearch.spaces.node import full_mask, sample_mask


def request(config, data, arm, sparsity, seed=0):
    widths = parent_widths(data.n_features, config.parent.hidden, data.n_classes)
    return MaskRequest(config, data, widths, init_parent(widths, seed), seed, sparsity, arm_stream(arm, seed, sparsity))


def config(probe="init_loss"):
    return Config(
        data=DataConfig(name="synthetic", samples=400),
        parent=ParentConfig(hidden=[20, 10]),
        train=TrainConfig(epochs=2),
        search=SearchConfig(sparsities=[0.5], candidates=12, probe=probe, probe_steps=2, probe_batch=50),
    )


def test_dense_keeps_everything_at_sparsity_zero_only(synthetic):
    cfg = config()
    assert ARMS["dense"].sparsities([0.5, 0.9]) == [0.0]
    assert ARMS["dense"].plan(request(cfg, synthetic, "dense", 0.0)).mask == full_mask((20, 10))


def test_random_draws_one_mask_at_the_sparsity_from_its_stream(synthetic):
    cfg = config()
    mask = ARMS["random"].plan(request(cfg, synthetic, "random", 0.5)).mask
    assert mask == sample_mask((20, 10), 0.5, generator("mask", "random", 0, 0.5))


def test_random_search_keeps_the_lowest_probe_loss_candidate(synthetic):
    for probe in ("init_loss", "steps"):
        cfg = config(probe)
        chosen = ARMS["random_search"].plan(request(cfg, synthetic, "random_search", 0.5, seed=3)).mask
        # redraw the same candidates and score them independently of the arm
        rng = generator("mask", "random_search", 3, 0.5)
        masks = [sample_mask((20, 10), 0.5, rng) for _ in range(12)]
        probe_idx = torch.randperm(synthetic.x_train.shape[0], generator=generator("probe-batch", 3))[:50]
        widths = parent_widths(synthetic.n_features, [20, 10], synthetic.n_classes)
        losses = probe_losses(
            init_parent(widths, 3), masks, synthetic, probe_idx, steps=2 if probe == "steps" else 0,
            recipe=cfg.train, order_seed=3, max_population=5,
        )
        assert chosen == masks[int(losses.argmin())]
        assert losses.min() < losses.median()  # the pick is not merely the first draw
