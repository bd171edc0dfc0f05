"""Training recipes (issue 26): learning-rate schedules against torch's schedulers, Nesterov SGD
and AdamW against torch.optim, label smoothing against F.cross_entropy, augmentation against a
torchvision-free reference, the engine against the textbook loop with all of them, seeds as a
list, trial keys, and the published CIFAR-10 recipe run on generated CIFAR files."""

from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import assert_close_across_kernels, reference_augment, train_alone
from test_data import write_cifar

import sparsearch
from sparsearch.config import Config, ParentConfig, TrainConfig, config_from_dict, load_config, quick
from sparsearch.data import load_dataset
from sparsearch.engine.augment import Augmentation, check_images, padding
from sparsearch.engine.schedule import learning_rate
from sparsearch.engine.step import autograd_loss_and_grads
from sparsearch.engine.trainer import Trainer
from sparsearch.errors import SparsearchError
from sparsearch.nets import build_parent
from sparsearch.nets.base import rows, stacked
from sparsearch.nets.mlp import forward
from sparsearch.nets.mlp_step import cross_entropy_and_grad
from sparsearch.specs import RunSpec

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# ---------------------------------------------------------------- schedules


def torch_rates(make_scheduler, steps: int, lr: float = 0.1) -> list[float]:
    """The rate torch's scheduler gives each of `steps` calls of `scheduler.step()`, from the first."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = make_scheduler(optimizer)
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


PER_EPOCH = 5  # steps an epoch in the schedule tests
SCHEDULES = {
    "step": (dict(schedule="step", milestones=[3, 7, 10], gamma=0.2),
             lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[3, 7, 10], gamma=0.2)),
    "cosine": (dict(schedule="cosine"), lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=12)),
    "constant": (dict(), lambda o: torch.optim.lr_scheduler.ConstantLR(o, factor=1.0)),
}


@pytest.mark.parametrize("warmup", [0, 2])
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_every_step_has_the_rate_of_torchs_epoch_scheduler_times_its_per_step_warmup(schedule, warmup):
    """MultiStepLR / CosineAnnealingLR (T_max = epochs) stepped once an epoch, times a LinearLR
    warmup from 1/N to 1 over the N = warmup_epochs x steps-per-epoch first steps, to 1e-6."""
    settings, make = SCHEDULES[schedule]
    recipe = TrainConfig(epochs=12, lr=0.1, warmup_epochs=warmup, **settings)
    per_epoch = torch_rates(make, recipe.epochs)
    n = warmup * PER_EPOCH
    warm = (torch_rates(lambda o: torch.optim.lr_scheduler.LinearLR(o, 1 / n, 1.0, total_iters=n - 1),
                        12 * PER_EPOCH, lr=1.0) if warmup else [1.0] * 12 * PER_EPOCH)
    got = torch.tensor([learning_rate(recipe, t, PER_EPOCH) for t in range(12 * PER_EPOCH)], dtype=torch.float64)
    expected = torch.tensor([per_epoch[t // PER_EPOCH] * warm[t] for t in range(12 * PER_EPOCH)], dtype=torch.float64)
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=0)
    if warmup:  # by hand: 1/10, 2/10, ... of the epoch's rate, all of it from the tenth step on
        assert got[0].item() == pytest.approx(per_epoch[0] / n) and got[n - 1].item() == pytest.approx(per_epoch[1])


def test_the_default_recipe_steps_at_its_lr_exactly():
    recipe = TrainConfig()
    assert {learning_rate(recipe, t, 7) for t in range(500)} == {0.05}


# ---------------------------------------------------------------- label smoothing


def test_smoothed_cross_entropy_and_its_gradient_by_hand_match_autograd():
    gen = torch.Generator().manual_seed(0)
    logits = (torch.randn(3, 5, 4, generator=gen) * 4).requires_grad_(True)
    y = torch.randint(0, 4, (3, 5), generator=gen)
    losses, grad = cross_entropy_and_grad(logits.detach(), y, 0.15)
    expected = torch.stack([F.cross_entropy(logits[p], y[p], label_smoothing=0.15) for p in range(3)])
    expected.sum().backward()
    torch.testing.assert_close(losses, expected.detach(), rtol=0, atol=1e-6)
    torch.testing.assert_close(grad, logits.grad, rtol=0, atol=1e-6)


def test_the_mlps_hand_written_step_smooths_labels_as_autograd(synthetic):
    from sparsearch.nets.mlp import MLP, init_parent, parent_widths

    widths = parent_widths(synthetic.n_features, (12,), synthetic.n_classes)
    layers = stacked([init_parent(widths, s) for s in (0, 1)])
    idx = torch.arange(40).view(2, 20)
    x, y = synthetic.x_train[idx], synthetic.y_train[idx]
    hand = [(torch.ones_like(w), torch.ones_like(b)) for w, b in layers]
    auto = [(torch.ones_like(w), torch.ones_like(b)) for w, b in layers]
    losses = MLP(widths).loss_and_grads(layers, x, y, hand, 0.9, label_smoothing=0.2)
    expected = autograd_loss_and_grads(forward, layers, x, y, auto, 0.9, label_smoothing=0.2)
    # the hand-written backward and autograd's order their GEMMs' sums differently, and each CPU model
    # rounds them its own way: compare at a tolerance that holds across CPUs (tests/conftest.py)
    assert_close_across_kernels(losses, expected)
    for got_layer, want_layer in zip(hand, auto):
        for got, want in zip(got_layer, want_layer):
            assert_close_across_kernels(got, want)


# ---------------------------------------------------------------- augmentation


def test_the_crop_pads_by_a_sides_eighth_at_least_one_pixel():
    assert [padding(s) for s in ((3, 32, 32), (1, 28, 28), (1, 8, 8), (1, 4, 4))] == [4, 3, 1, 1]


@pytest.mark.parametrize("augment", [("crop", "flip"), ("crop",), ("flip",)])
def test_augmented_batches_equal_the_numpy_reference_and_are_shared_by_seed(augment):
    shape, seeds, batch = (2, 8, 8), (3, 4, 3), 40
    gen = torch.Generator().manual_seed(0)
    one = torch.randn(batch, 128, generator=gen)
    x = torch.stack([one, torch.randn(batch, 128, generator=gen), one])
    out = Augmentation(augment, shape, seeds)(x, 2, 5)
    for p, seed in enumerate(seeds):
        assert torch.equal(out[p], reference_augment(x[p], shape, augment, seed, 2, 5))
    assert torch.equal(out[0], out[2]) and out.shape == x.shape
    changed = (out[0] != x[0]).any(1)
    assert 0 < int(changed.sum()) < batch  # some examples moved or mirrored, some (offset 1, no flip) not
    assert not torch.equal(out[0], Augmentation(augment, shape, seeds)(x, 2, 6)[0])  # the next step draws anew


def test_augmentation_refuses_data_that_are_not_images():
    check_images(["crop"], (1, 8, 8))
    check_images([], (64,))
    with pytest.raises(SparsearchError) as error:
        check_images(["crop", "flip"], (64,))
    assert str(error.value) == ("data.augment: ['crop', 'flip'] needs images [channels, height, width]; the data's "
                                "examples have shape [64] (use augment = [] for these data)")


# ---------------------------------------------------------------- the engine with every recipe


@pytest.fixture(scope="module")
def digits():
    """256 training examples of scikit-learn's digits: 1x8x8 images."""
    from sparsearch.config import DataConfig

    data = load_dataset(DataConfig(name="digits"))
    return replace(data, x_train=data.x_train[:256], y_train=data.y_train[:256])


RECIPES = {
    "nesterov-step-warmup-smoothing": (
        TrainConfig(epochs=3, batch_size=50, optimizer="sgd", nesterov=True, lr=0.05, momentum=0.9,
                    weight_decay=5e-4, schedule="step", milestones=[1, 2], gamma=0.2, warmup_epochs=1,
                    label_smoothing=0.1),
        ("crop", "flip")),
    "adamw-cosine-warmup": (
        TrainConfig(epochs=3, batch_size=50, optimizer="adamw", lr=3e-3, weight_decay=0.05, schedule="cosine",
                    warmup_epochs=1),
        ("crop",)),
}
PARENTS = {"mlp": ParentConfig(kind="mlp", hidden=[24]), "lenet5": ParentConfig(kind="lenet5", channels=[3, 4])}


@pytest.mark.parametrize("kind", PARENTS)
@pytest.mark.parametrize("recipe", RECIPES)
def test_the_engine_trains_every_recipe_as_the_textbook_torch_loop(digits, recipe, kind):
    """The MLP's hand-written step and a conv parent through autograd, against nn modules
    trained with torch.optim, F.cross_entropy(label_smoothing) and the numpy augmentation."""
    train, augment = RECIPES[recipe]
    net = build_parent(PARENTS[kind], digits.shape, digits.n_classes)
    seeds = [2, 5]
    curves = Trainer(net, digits, train, augment=augment).train(stacked([net.init(s) for s in seeds]), seeds)
    for p, seed in enumerate(seeds):
        model = train_alone(net.module(net.init(seed)), seed, digits, train, augment)
        for (name, expected), got in zip(model.state_dict().items(), net.state_dict(rows(curves.final, p)).values()):
            assert_close_across_kernels(got, expected, msg=name)


@pytest.mark.parametrize("recipe", RECIPES)
def test_a_network_trains_with_any_recipe_bitwise_as_it_would_alone(digits, recipe):
    train, augment = RECIPES[recipe]
    net = build_parent(PARENTS["mlp"], digits.shape, digits.n_classes)
    engine = Trainer(net, digits, train, augment=augment)
    seeds = [0, 1, 0]
    together = engine.train(stacked([net.init(s) for s in seeds]), seeds)
    for p, seed in enumerate(seeds):
        alone = engine.train(stacked([net.init(seed)]), [seed])
        assert torch.equal(together.val_acc[p], alone.val_acc[0])
        assert all(torch.equal(a[p], b[0]) for la, lb in zip(together.final, alone.final) for a, b in zip(la, lb))


@pytest.mark.parametrize("recipe", RECIPES)
def test_a_scheduled_augmented_training_continued_from_its_state_equals_it_in_one_go(digits, recipe):
    train, augment = RECIPES[recipe]
    train = train.model_copy(update={"epochs": 5, **({"milestones": [2, 4]} if train.milestones else {})})
    net = build_parent(PARENTS["mlp"], digits.shape, digits.n_classes)
    engine = Trainer(net, digits, train, augment=augment)
    seeds = [0, 1]
    start = stacked([net.init(s) for s in seeds])
    whole = engine.train(start, seeds)
    first = engine.train(start, seeds, stop_epoch=2, keep_state=True)
    rest = engine.train(first.final, seeds, start_epoch=2, optimizer_state=first.state)
    assert torch.equal(torch.cat([first.train_loss, rest.train_loss], 1), whole.train_loss)
    assert all(torch.equal(a, b) for la, lb in zip(rest.final, whole.final) for a, b in zip(la, lb))


# ---------------------------------------------------------------- keys and seeds


def test_the_default_recipe_keys_as_before_and_every_new_setting_enters_the_key():
    assert TrainConfig().keyed() == {"epochs": 30, "batch_size": 64, "optimizer": "sgd", "lr": 0.05, "momentum": 0.9,
                                     "weight_decay": 0.0}
    for change in ({"nesterov": True}, {"schedule": "cosine"}, {"warmup_epochs": 1}, {"label_smoothing": 0.1},
                   {"schedule": "step", "milestones": [10]}, {"optimizer": "adamw"}):
        assert TrainConfig(**change).keyed() == {**TrainConfig().keyed(), **change}
    assert TrainConfig(schedule="step", milestones=[10], gamma=0.5).keyed()["gamma"] == 0.5
    run = RunSpec(2, "digits", "ab" * 32, {"kind": "mlp"}, TrainConfig().keyed())
    assert "augment" not in run.to_json()["data"]
    assert replace(run, augment=("crop",)).to_json()["data"]["augment"] == ["crop"]
    assert replace(run, augment=("crop",)).to_json() != run.to_json()


def test_listed_seeds_run_exactly_those_and_reuse_the_trials_of_a_count(tmp_path):
    base = {"experiment": {"name": "count", "seeds": 2}, "data": {"name": "synthetic", "samples": 200},
            "parent": {"hidden": [8]}, "train": {"epochs": 1}, "search": {"sparsities": [0.5], "arms": ["dense", "random"]}}
    counted = sparsearch.run(base, store=tmp_path / "s.db")
    listed = sparsearch.run({**base, "experiment": {"name": "list", "seeds": [1]}}, store=tmp_path / "s.db")
    assert (listed.outcome.trained, listed.outcome.reused) == (0, 2)
    keys = counted.trials().set_index(["arm", "seed"])["trial_key"]
    assert sorted(listed.trials()["seed"]) == [1, 1]
    assert sorted(listed.trials()["trial_key"]) == sorted(keys.xs(1, level="seed"))
    assert Config(experiment={"seeds": [9, 2, 5, 7]}).experiment.seed_list == (2, 5, 7, 9)
    assert quick(Config(experiment={"seeds": [9, 2, 5, 7]})).experiment.seed_list == (2, 5, 7)


@pytest.mark.parametrize("section, settings, message", [
    ("experiment", {"seeds": [3, 3]}, "experiment.seeds: seeds must be distinct, got [3, 3]"),
    ("train", {"optimizer": "adam", "nesterov": True},
     "train: nesterov = true needs optimizer = 'sgd' with momentum above 0, got optimizer = 'adam', momentum = 0.9"),
    ("train", {"schedule": "step", "milestones": [10, 40]},
     "train: milestones must increase strictly, each from 1 to epochs - 1 = 29, got [10, 40]"),
    ("data", {"augment": ["crop", "crop"]}, "data.augment: augmentations must be distinct, got ['crop', 'crop']"),
])
def test_inconsistent_recipes_are_refused_in_one_line_naming_the_setting(section, settings, message):
    with pytest.raises(SparsearchError) as error:
        config_from_dict({section: settings})
    assert str(error.value) == message


# ---------------------------------------------------------------- the published recipes


def test_the_resnet20_example_is_he_et_als_recipe_and_runs_its_schedule_epoch_by_epoch(tmp_path, monkeypatch):
    """examples/cifar10-resnet20.toml: SGD lr 0.1, momentum 0.9, weight decay 1e-4, batch 128,
    the rate divided by 10 at 50% and 75% of training, crop and flip, on a 45k/5k split. Run on
    generated CIFAR files for 4 epochs (milestones scaled to [2, 3]: both drops happen) with
    thin stages, every step's rate is recorded and compared with the schedule's formula."""
    config = load_config(EXAMPLES / "cifar10-resnet20.toml")
    train = config.train
    assert (train.optimizer, train.lr, train.momentum, train.weight_decay, train.batch_size, train.nesterov) == (
        "sgd", 0.1, 0.9, 1e-4, 128, False)
    per_epoch = -(-45_000 // 128)  # the paper's 45k training images
    assert (train.schedule, train.gamma, train.milestones, train.epochs) == (
        "step", 0.1, [round(32_000 / per_epoch), round(48_000 / per_epoch)], round(64_000 / per_epoch))
    assert (config.data.name, config.data.augment, config.data.val_fraction, config.parent.kind) == (
        "cifar10", ["crop", "flip"], 0.1, "resnet20")
    write_cifar(tmp_path)
    document = config.model_dump(exclude_none=True)
    document["experiment"]["seeds"] = 1
    document["data"]["root"] = str(tmp_path)
    document["parent"]["channels"] = [2, 4, 8]
    document["train"].update(epochs=4, milestones=[2, 3])
    document["search"].update(arms=["dense"], sparsities=[0.5])
    rates = []

    def recorded(recipe, step, per_epoch):
        rates.append((step // per_epoch, learning_rate(recipe, step, per_epoch)))
        return rates[-1][1]

    monkeypatch.setattr("sparsearch.engine.optim.learning_rate", recorded)
    study = sparsearch.run(document, store=tmp_path / "s.db")
    assert len(study.trials()) == 1 and study.trials()["status"].tolist() == ["ok"]
    assert [epoch for epoch, _ in rates] == [0, 1, 2, 3]  # a few training examples: one step an epoch
    assert [rate for _, rate in rates] == pytest.approx([0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1**2], rel=1e-12)


def test_the_conv_example_is_frankle_and_carbins_conv4_recipe():
    config = load_config(EXAMPLES / "cifar10-conv.toml")
    assert (config.parent.kind, config.train.optimizer, config.train.lr, config.train.batch_size) == (
        "conv4", "adam", 3e-4, 60)
    assert (config.train.schedule, config.data.val_fraction, config.data.augment) == ("constant", 0.1, [])


def test_the_super_network_steps_at_the_scheduled_rate(synthetic, monkeypatch):
    from sparsearch.nets.mlp import MLP, init_parent, parent_widths
    from sparsearch.spaces.elastic import ElasticSpace
    from sparsearch.supernet import train as supernet

    config = config_from_dict({"experiment": {"kind": "supernet"}, "parent": {"hidden": [8, 8]},
                               "train": {"batch_size": 100, "optimizer": "adamw", "schedule": "cosine",
                                         "warmup_epochs": 1},
                               "supernet": {"epochs": 3, "widths": [0.5, 1.0]}})
    space = ElasticSpace((8, 8), (0.5, 1.0))
    rates, real = [], supernet.set_learning_rate

    def recording(optimizer, lr):
        rates.append(lr)
        real(optimizer, lr)

    monkeypatch.setattr(supernet, "set_learning_rate", recording)
    widths = parent_widths(synthetic.n_features, (8, 8), synthetic.n_classes)
    supernet.train_supernet(MLP(widths), init_parent(widths, 0), space, synthetic, config, 0)
    per_epoch = -(-synthetic.x_train.shape[0] // 100)
    recipe = config.train.model_copy(update={"epochs": 3})  # annealed over [supernet] epochs
    assert rates == [learning_rate(recipe, t, per_epoch) for t in range(3 * per_epoch)]
    assert rates[0] < rates[per_epoch - 1] == max(rates) and rates[-1] < rates[per_epoch]
