import pytest
import torch
import torch.nn.functional as F

from sparsearch.config import TrainConfig
from sparsearch.engine.chunking import chunk_slices, network_bytes
from sparsearch.engine.probe import probe_scores
from sparsearch.probes import init_loss, steps as steps_probe
from sparsearch.engine.trainer import Trainer, batch_orders, steps_per_epoch, train_population
from sparsearch.nets.mlp import MLP, forward, init_parent, parent_widths
from sparsearch.seeding import generator
from sparsearch.spaces.node import compact, sample_mask

HIDDEN = (24, 12)
RECIPES = [
    TrainConfig(epochs=3, batch_size=32, optimizer="sgd", lr=0.05, momentum=0.9),
    TrainConfig(epochs=3, batch_size=50, optimizer="adam", lr=0.003, weight_decay=1e-4),
]


def members(data, seeds, sparsity):
    widths = parent_widths(data.n_features, HIDDEN, data.n_classes)
    out = []
    for seed in seeds:
        mask = sample_mask(HIDDEN, sparsity, generator("mask", seed))
        out.append(compact(init_parent(widths, seed), [mask]))
    return out


def trainer(data, max_population):
    widths = parent_widths(data.n_features, HIDDEN, data.n_classes)
    return Trainer(MLP(widths), data, RECIPES[0], max_population=max_population)


def stack(parts):
    return [(torch.cat([p[i][0] for p in parts]), torch.cat([p[i][1] for p in parts])) for i in range(len(parts[0]))]


@pytest.mark.parametrize("recipe", RECIPES, ids=["sgd", "adam"])
def test_network_in_population_trains_as_it_would_alone(synthetic, recipe):
    seeds = [0, 1, 2, 0]  # two networks share seed 0: same init and data order
    parts = members(synthetic, seeds, 0.5)
    together = train_population(forward, stack(parts), seeds, synthetic, recipe)
    for p, seed in enumerate(seeds):
        alone = train_population(forward, parts[p], [seed], synthetic, recipe)
        torch.testing.assert_close(together.train_loss[p], alone.train_loss[0], rtol=0, atol=1e-5)
        torch.testing.assert_close(together.val_acc[p], alone.val_acc[0], rtol=0, atol=1e-5)
        torch.testing.assert_close(together.test_acc[p], alone.test_acc[0], rtol=0, atol=1e-5)
    assert together.train_loss[:, -1].max() < together.train_loss[:, 0].min()  # it learns


def test_batch_orders_cover_every_example_once_per_epoch_and_share_by_seed():
    batches = batch_orders([3, 4, 3], 10, 4)
    epoch = torch.cat([next(batches) for _ in range(steps_per_epoch(10, 4))], dim=1)
    assert epoch.shape == (3, 10)
    for row in epoch:
        assert sorted(row.tolist()) == list(range(10))
    assert torch.equal(epoch[0], epoch[2]) and not torch.equal(epoch[0], epoch[1])


@pytest.mark.parametrize("steps", [0, 3])
def test_probe_losses_are_the_same_whatever_the_chunk_size(synthetic, steps):
    widths = parent_widths(synthetic.n_features, HIDDEN, synthetic.n_classes)
    parent = init_parent(widths, 0)
    masks = [sample_mask(HIDDEN, 0.5, generator("m", k)) for k in range(7)]
    probe = torch.arange(64)
    score = steps_probe if steps else init_loss
    whole = probe_scores(trainer(synthetic, max_population=100), parent, masks, probe, score, steps=steps, order_seed=0)
    chunked = probe_scores(trainer(synthetic, max_population=3), parent, masks, probe, score, steps=steps, order_seed=0)
    torch.testing.assert_close(whole, chunked, rtol=0, atol=1e-6)
    assert whole.shape == (7,) and len(set(whole.tolist())) == 7


def test_init_probe_is_the_cross_entropy_of_each_compacted_network(synthetic):
    widths = parent_widths(synthetic.n_features, HIDDEN, synthetic.n_classes)
    parent = init_parent(widths, 1)
    masks = [sample_mask(HIDDEN, 0.75, generator("m", k)) for k in range(3)]
    probe = torch.tensor([5, 1, 9, 30, 2])
    losses = -probe_scores(trainer(synthetic, max_population=8), parent, masks, probe, init_loss, order_seed=1)
    for k, mask in enumerate(masks):
        h = synthetic.x_train[probe]
        layers = compact(parent, [mask])
        for i, (w, b) in enumerate(layers):
            h = h @ w[0] + b[0]
            h = torch.relu(h) if i < len(layers) - 1 else h
        expected = F.cross_entropy(h, synthetic.y_train[probe])
        assert losses[k].item() == pytest.approx(expected.item(), abs=1e-6)


def test_chunk_slices_by_hand():
    widths = (64, 300, 100, 10)
    # cache: 5 MiB / (4 B x batch 64 x widest 300) = 68 networks -> 256 in 4 equal chunks of 64
    assert chunk_slices(256, widths, 64) == [slice(s, s + 64) for s in range(0, 256, 64)]
    # memory: 4 B x (4 x 50,610 params + 3 x 64 x 410 activations) = 1,124,640 B per network
    assert network_bytes(widths, 64) == 1_124_640
    slices = chunk_slices(256, widths, 64, max_memory=10 * 1_124_640)
    assert len(slices) == 26 and max(s.stop - s.start for s in slices) == 10
    assert chunk_slices(5, widths, 64, most=2) == [slice(0, 2), slice(2, 4), slice(4, 5)]
    assert chunk_slices(3, widths, 64, max_memory=1) == [slice(0, 1), slice(1, 2), slice(2, 3)]


def test_chunked_training_gives_the_same_numbers_as_one_program(synthetic):
    seeds = [0, 1, 2, 3, 4]
    parts = members(synthetic, seeds, 0.5)
    whole = train_population(forward, stack(parts), seeds, synthetic, RECIPES[0])
    widths = (synthetic.n_features, 12, 6, synthetic.n_classes)
    chunked = train_population(forward, stack(parts), seeds, synthetic, RECIPES[0], max_memory=2 * network_bytes(widths, 32))
    for name in ("train_loss", "val_acc", "test_acc"):
        assert torch.equal(getattr(whole, name), getattr(chunked, name))
    for (w1, b1), (w2, b2) in zip(whole.final, chunked.final):
        assert torch.equal(w1, w2) and torch.equal(b1, b2)
