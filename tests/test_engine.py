from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from conftest import assert_close_across_kernels, assert_tested_once_as_every_epoch, train_alone

from sparsearch.config import TrainConfig
from sparsearch.engine.chunking import chunk_slices, mlp_footprint, network_bytes
from sparsearch.engine.probe import probe_scores
from sparsearch.probes import init_loss, steps as steps_probe
from sparsearch.engine.optim import FlatOptimizer
from sparsearch.engine.step import autograd_loss_and_grads
from sparsearch.engine.trainer import Trainer, batch_orders, steps_per_epoch, train_population
from sparsearch.nets.mlp import MLP, compact, forward, init_parent, parent_widths
from sparsearch.nets.mlp_step import cross_entropy_and_grad
from sparsearch.seeding import generator
from sparsearch.spaces.node import sample_mask

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


def mlp(data):
    return MLP(parent_widths(data.n_features, HIDDEN, data.n_classes))


def trainer(data, max_population):
    widths = parent_widths(data.n_features, HIDDEN, data.n_classes)
    return Trainer(MLP(widths), data, RECIPES[0], max_population=max_population)


def stack(parts):
    return [(torch.cat([p[i][0] for p in parts]), torch.cat([p[i][1] for p in parts])) for i in range(len(parts[0]))]


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("recipe", RECIPES, ids=["sgd", "adam"])
def test_network_in_population_trains_bitwise_as_it_would_alone(synthetic, recipe, precision):
    seeds = [0, 1, 2, 0]  # two networks share seed 0: same init and data order
    parts = members(synthetic, seeds, 0.5)
    together = train_population(mlp(synthetic), stack(parts), seeds, synthetic, recipe, precision=precision)
    for p, seed in enumerate(seeds):
        alone = train_population(mlp(synthetic), parts[p], [seed], synthetic, recipe, precision=precision)
        for name in ("train_loss", "val_acc", "test_acc"):
            assert torch.equal(getattr(together, name)[p], getattr(alone, name)[0])
        for (w1, b1), (w2, b2) in zip(together.final, alone.final):
            assert torch.equal(w1[p], w2[0]) and torch.equal(b1[p], b2[0])
    assert together.train_loss[:, -1].max() < together.train_loss[:, 0].min()  # it learns
    again = train_population(mlp(synthetic), stack(parts), seeds, synthetic, recipe, precision=precision)
    assert torch.equal(again.train_loss, together.train_loss)  # deterministic


@pytest.mark.parametrize("recipe", RECIPES, ids=["sgd", "adam"])
def test_engine_trains_as_torch_optim_on_nn_linear_layers(synthetic, recipe):
    """The hand-written step and flat optimizer against the textbook loop: nn.Sequential,
    F.cross_entropy, autograd and torch.optim, in the engine's data order."""
    seeds = [3]
    layers = members(synthetic, seeds, 0.0)[0]
    curves = train_population(mlp(synthetic), layers, seeds, synthetic, recipe)
    model = MLP(()).module([(w[0], b[0]) for w, b in layers])
    train_alone(model, seeds[0], synthetic, recipe)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    for (w, b), linear in zip(curves.final, linears):
        assert_close_across_kernels(w[0], linear.weight.detach().t())
        assert_close_across_kernels(b[0], linear.bias.detach())


def test_cross_entropy_and_its_gradient_by_hand_match_autograd():
    gen = torch.Generator().manual_seed(0)
    logits = (torch.randn(3, 5, 4, generator=gen) * 4).requires_grad_(True)
    y = torch.randint(0, 4, (3, 5), generator=gen)
    losses, grad = cross_entropy_and_grad(logits.detach(), y)
    expected = torch.stack([F.cross_entropy(logits[p], y[p]) for p in range(3)])
    expected.sum().backward()
    assert_close_across_kernels(losses, expected.detach())
    assert_close_across_kernels(grad, logits.grad)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_hand_written_gradients_equal_autograd_accumulated_with_decay(synthetic, dtype):
    parts = members(synthetic, [0, 1], 0.25)
    layers = stack(parts)
    idx = torch.arange(40).view(2, 20)
    x, y = synthetic.x_train[idx], synthetic.y_train[idx]
    old = [(torch.randn_like(w), torch.randn_like(b)) for w, b in layers]
    hand = [(w.clone(), b.clone()) for w, b in old]
    auto = [(w.clone(), b.clone()) for w, b in old]
    losses = mlp(synthetic).loss_and_grads(layers, x, y, hand, 0.9, dtype)
    expected = autograd_loss_and_grads(forward, layers, x, y, auto, 0.9, dtype)
    tol = 1e-6 if dtype == torch.float32 else 2e-2
    torch.testing.assert_close(losses, expected, rtol=0, atol=tol)
    for (hw, hb), (aw, ab) in zip(hand, auto):
        torch.testing.assert_close(hw, aw, rtol=tol, atol=tol)
        torch.testing.assert_close(hb, ab, rtol=tol, atol=tol)


class AutogradOnly(MLP):
    """An MLP without its hand-written step: the engine differentiates its forward (as it does a
    user's own parent)."""

    loss_and_grads = None


@pytest.mark.parametrize("recipe", RECIPES, ids=["sgd", "adam"])
def test_a_parent_without_a_hand_written_step_trains_through_autograd_to_the_same_numbers(synthetic, recipe):
    seeds = [0, 1]
    layers = stack(members(synthetic, seeds, 0.5))
    hand = train_population(mlp(synthetic), layers, seeds, synthetic, recipe)
    auto = train_population(AutogradOnly(mlp(synthetic).widths), layers, seeds, synthetic, recipe)
    torch.testing.assert_close(auto.train_loss, hand.train_loss, rtol=0, atol=1e-5)
    for (w1, _), (w2, _) in zip(auto.final, hand.final):
        torch.testing.assert_close(w1, w2, rtol=0, atol=1e-5)


OPTIMIZERS = {
    "sgd": (dict(optimizer="sgd"), lambda ts, r: torch.optim.SGD(ts, r.lr, momentum=0.9, weight_decay=0.01)),
    "nesterov": (dict(optimizer="sgd", nesterov=True),
                 lambda ts, r: torch.optim.SGD(ts, r.lr, momentum=0.9, weight_decay=0.01, nesterov=True)),
    "adam": (dict(optimizer="adam"), lambda ts, r: torch.optim.Adam(ts, r.lr, weight_decay=0.01)),
    "adamw": (dict(optimizer="adamw"), lambda ts, r: torch.optim.AdamW(ts, r.lr, weight_decay=0.01)),
}


@pytest.mark.parametrize("schedule", [{}, {"schedule": "cosine", "warmup_epochs": 1}], ids=["constant", "cosine"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_flat_optimizer_steps_as_torch_optim(optimizer, schedule):
    """Each optimizer against torch's own, built here, stepped with torch's LambdaLR at the
    rate of engine/schedule.py (tests/test_recipes.py checks those rates against torch's schedulers)."""
    from sparsearch.engine.schedule import learning_rate

    settings, torch_optimizer = OPTIMIZERS[optimizer]
    recipe = TrainConfig(lr=0.1, momentum=0.9, weight_decay=0.01, epochs=3, **settings, **schedule)
    gen = torch.Generator().manual_seed(1)
    layers = [(torch.randn(2, 3, 4, generator=gen), torch.randn(2, 4, generator=gen))]
    flat = FlatOptimizer(layers, recipe, steps_per_epoch=2)
    tensors = [t.clone().requires_grad_(True) for pair in layers for t in pair]
    reference = torch_optimizer(tensors, recipe)
    rates = torch.optim.lr_scheduler.LambdaLR(reference, lambda t: learning_rate(recipe, t, 2) / recipe.lr)
    for _ in range(6):
        grads = [torch.randn(t.shape, generator=gen) for t in tensors]
        for buffer, g in zip([t for pair in flat.grads for t in pair], grads):
            buffer.mul_(flat.decay).add_(g)
        flat.step()
        for t, g in zip(tensors, grads):
            t.grad = g
        reference.step()
        rates.step()
    for got, expected in zip([t for pair in flat.params for t in pair], tensors):
        assert_close_across_kernels(got, expected.detach())


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
    assert chunk_slices(256, mlp_footprint(widths, 64), 64) == [slice(s, s + 64) for s in range(0, 256, 64)]
    # memory: 4 B x (4 x 50,610 params + 3 x 64 x 410 activations) = 1,124,640 B per network
    assert network_bytes(widths, 64) == 1_124_640
    slices = chunk_slices(256, mlp_footprint(widths, 64), 64, max_memory=10 * 1_124_640)
    assert len(slices) == 26 and max(s.stop - s.start for s in slices) == 10
    assert chunk_slices(5, mlp_footprint(widths, 64), 64, most=2) == [slice(0, 2), slice(2, 4), slice(4, 5)]
    assert chunk_slices(3, mlp_footprint(widths, 64), 64, max_memory=1) == [slice(0, 1), slice(1, 2), slice(2, 3)]
    # narrower (node sparsity 0.5, widest 150): the activation cap would allow 136, a CPU chunk holds 64
    assert chunk_slices(256, mlp_footprint((64, 150, 50, 10), 64), 64) == [slice(s, s + 64) for s in range(0, 256, 64)]
    assert chunk_slices(200, mlp_footprint((64, 150, 50, 10), 64), 64) == [slice(s, min(s + 50, 200))
                                                                           for s in range(0, 200, 50)]
    # a GPU: no cache limit, memory alone (256 x 1,124,640 B is under the 4 GiB default: one chunk)
    assert chunk_slices(256, mlp_footprint(widths, 64), 64, device="cuda") == [slice(0, 256)]
    assert len(chunk_slices(256, mlp_footprint(widths, 64), 64, max_memory=10 * 1_124_640, device="cuda")) == 26


def test_chunked_training_gives_the_same_numbers_as_one_program(synthetic):
    seeds = [0, 1, 2, 3, 4]
    parts = members(synthetic, seeds, 0.5)
    whole = train_population(mlp(synthetic), stack(parts), seeds, synthetic, RECIPES[0])
    widths = (synthetic.n_features, 12, 6, synthetic.n_classes)
    chunked = train_population(mlp(synthetic), stack(parts), seeds, synthetic, RECIPES[0], max_memory=2 * network_bytes(widths, 32))
    for name in ("train_loss", "val_acc", "test_acc"):
        assert torch.equal(getattr(whole, name), getattr(chunked, name))
    for (w1, b1), (w2, b2) in zip(whole.final, chunked.final):
        assert torch.equal(w1, w2) and torch.equal(b1, b2)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("recipe", [*RECIPES, RECIPES[0].model_copy(update={"weight_decay": 1e-3})],
                         ids=["sgd", "adam", "sgd-decay"])
def test_a_training_continued_from_its_state_equals_the_training_in_one_go(synthetic, recipe, precision):
    seeds = [0, 1, 2]
    start = stack(members(synthetic, seeds, 0.5))
    net = trainer(synthetic, 256)
    engine = Trainer(net.parent, synthetic, recipe.model_copy(update={"epochs": 5}), precision=precision)
    whole = engine.train(start, seeds)
    first = engine.train(start, seeds, stop_epoch=2, keep_state=True)
    expected_buffers = 0 if recipe.optimizer == "sgd" and not recipe.momentum else (1 if recipe.optimizer == "sgd" else 2)
    assert len(first.state) == expected_buffers and first.val_acc.shape == (3, 2)
    rest = engine.train(first.final, seeds, start_epoch=2, optimizer_state=first.state, keep_state=True)
    for name in ("train_loss", "val_acc", "test_acc"):
        assert torch.equal(torch.cat([getattr(first, name), getattr(rest, name)], 1), getattr(whole, name)), name
    assert all(torch.equal(a, b) for la, lb in zip(rest.final, whole.final) for a, b in zip(la, lb))
    # chunked across populations, the state travels with its networks
    one_network = net.parent.footprint(first.final, recipe.batch_size)[0]  # chunks of one network
    small = Trainer(net.parent, synthetic, engine.recipe, max_memory=one_network, precision=precision)
    parts = small.train(first.final, seeds, start_epoch=2, optimizer_state=first.state)
    assert torch.equal(parts.val_acc, rest.val_acc)


def test_testing_once_gives_the_per_epoch_test_accuracy_at_the_best_and_last_epochs(synthetic):
    seeds = list(range(8))
    recipe = TrainConfig(epochs=6, batch_size=32, lr=0.3, momentum=0.9)  # a rate high enough to fluctuate
    assert_tested_once_as_every_epoch(replace(trainer(synthetic, 8), recipe=recipe), stack(members(synthetic, seeds, 0.5)),
                                      seeds)
