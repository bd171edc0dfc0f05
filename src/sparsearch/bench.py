"""Throughput benchmark: the population engine against the plain PyTorch loop a user writes today.

For every (population P, node sparsity s) the same P networks are trained two ways, side by
side in one process:

- ``plain``: one network after another, each an ``nn.Sequential`` of ``nn.Linear`` + ReLU with
  the compacted widths, its own ``torch.optim.SGD``, and per-epoch evaluation of validation and
  test accuracy with ``model(x).argmax(1)``.
- ``engine``: ``train_population`` on the same P networks stacked into one batched program.

Both sides do the same work: the same networks (network p is the parent initialised with seed p,
compacted by the random node mask drawn from ``generator("bench-mask", p, s)``), the same data
order (``batch_orders([p], ...)``), the same epochs, batch size and optimizer (the default
``TrainConfig``), and evaluation of val and test after every epoch. ``plain_train_population``
runs the plain side and returns its curves, and tests/test_bench.py checks that its training
losses equal the engine's, so the speedup compares identical computations.

Throughput is network-epochs per wall-clock second (``time.perf_counter``), with
``torch.set_num_threads(threads)``; each method is timed `repeats` times (default 3) and its fastest
run is kept, as ``timeit`` does. The plain loop's time is linear in P, so for large P it is
timed on at most ``plain_max`` networks and its per-network rate is used for all P (the row's
``plain_networks_timed`` says how many were timed). Each method is warmed up once on a tiny run
before anything is timed. Building the networks (init and compaction) is not timed on either side.

Run it as ``sparsearch bench --populations 1,16,64 --sparsities 0,0.5,0.9 --epochs 3``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import TrainConfig, config_from_dict
from .data import Dataset, load_dataset
from .engine.trainer import Curves, batch_orders, make_optimizer, steps_per_epoch, train_population
from .experiment import Progress
from .nets.mlp import Layers, init_parent, parent_widths
from .seeding import generator
from .spaces.node import compact, sample_mask

PLAIN_MAX = 16
"""Most networks the plain loop is timed on; its per-network time is scaled to the population."""

ROW_KEYS = (
    "dataset",
    "hidden",
    "population",
    "node_sparsity",
    "epochs",
    "plain_net_epochs_per_s",
    "engine_net_epochs_per_s",
    "speedup",
    "plain_networks_timed",
)


# ---------------------------------------------------------------- the networks both sides train


def bench_networks(widths: tuple[int, ...], sparsity: float, seeds: Sequence[int]) -> Layers:
    """Stacked compacted networks [P, in', out']: network p is the parent of seed `seeds[p]`
    compacted by the random node mask drawn from `generator("bench-mask", seed, sparsity)`."""
    hidden = tuple(widths[1:-1])
    per_seed = [
        compact(init_parent(widths, seed), [sample_mask(hidden, sparsity, generator("bench-mask", seed, sparsity))])
        for seed in seeds
    ]
    return [
        (torch.cat([net[i][0] for net in per_seed]), torch.cat([net[i][1] for net in per_seed]))
        for i in range(len(widths) - 1)
    ]


def unstack(layers: Layers, p: int) -> Layers:
    """Network p of stacked layers: weight [in, out], bias [out]."""
    return [(w[p], b[p]) for w, b in layers]


# ---------------------------------------------------------------- (a) the plain loop


def plain_model(layers: Layers) -> nn.Sequential:
    """`nn.Sequential(Linear, ReLU, ..., Linear)` holding copies of one unstacked network's weights."""
    modules: list[nn.Module] = []
    for i, (weight, bias) in enumerate(layers):
        linear = nn.Linear(weight.shape[0], weight.shape[1])
        with torch.no_grad():
            linear.weight.copy_(weight.t())
            linear.bias.copy_(bias)
        modules.append(linear)
        if i < len(layers) - 1:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


@torch.no_grad()
def plain_accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    return (model(x).argmax(1) == y).float().mean().item()


def plain_train(layers: Layers, seed: int, data: Dataset, recipe: TrainConfig) -> tuple[list[float], list[float], list[float]]:
    """Train one unstacked network the way a user writes it; return per-epoch
    (mean train loss, val accuracy, test accuracy). Network `seed` reads `batch_orders([seed])`."""
    model = plain_model(layers)
    optimizer = make_optimizer(list(model.parameters()), recipe)
    n = data.x_train.shape[0]
    batches = batch_orders([seed], n, recipe.batch_size)
    losses, vals, tests = [], [], []
    for _ in range(recipe.epochs):
        total, seen = 0.0, 0
        for _ in range(steps_per_epoch(n, recipe.batch_size)):
            idx = next(batches)[0]
            loss = F.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * idx.shape[0]
            seen += idx.shape[0]
        losses.append(total / seen)
        vals.append(plain_accuracy(model, data.x_val, data.y_val))
        tests.append(plain_accuracy(model, data.x_test, data.y_test))
    return losses, vals, tests


def plain_train_population(layers: Layers, seeds: Sequence[int], data: Dataset, recipe: TrainConfig) -> Curves:
    """The plain loop over every network of stacked `layers`, one after another, as `Curves`
    ([P, epochs]) directly comparable with `train_population(layers, seeds, data, recipe)`."""
    start = time.perf_counter()
    runs = [plain_train(unstack(layers, p), seed, data, recipe) for p, seed in enumerate(seeds)]
    as_tensor = lambda k: torch.tensor([run[k] for run in runs], dtype=torch.float32)  # noqa: E731
    return Curves(as_tensor(0), as_tensor(1), as_tensor(2), time.perf_counter() - start)


# ---------------------------------------------------------------- timing


def _subset(data: Dataset, n: int) -> Dataset:
    """The first n examples of every split (for the warm-up run)."""
    return Dataset(
        name=data.name,
        x_train=data.x_train[:n],
        y_train=data.y_train[:n],
        x_val=data.x_val[:n],
        y_val=data.y_val[:n],
        x_test=data.x_test[:n],
        y_test=data.y_test[:n],
        n_classes=data.n_classes,
    )


def _time_plain(layers: Layers, seeds: Sequence[int], data: Dataset, recipe: TrainConfig, progress) -> float:
    """Wall seconds of the plain loop over these networks (progress reported between networks, untimed)."""
    elapsed = 0.0
    for p, seed in enumerate(seeds):
        net = unstack(layers, p)
        start = time.perf_counter()
        plain_train(net, seed, data, recipe)
        elapsed += time.perf_counter() - start
        progress.advance(recipe.epochs)
    return elapsed


def _time_engine(layers: Layers, seeds: Sequence[int], data: Dataset, recipe: TrainConfig, progress) -> float:
    start = time.perf_counter()
    train_population(layers, list(seeds), data, recipe)
    elapsed = time.perf_counter() - start
    progress.advance(len(seeds) * recipe.epochs)
    return elapsed


def run_bench(
    populations: Sequence[int] = (1, 16, 64),
    sparsities: Sequence[float] = (0.0, 0.5, 0.9),
    epochs: int = 3,
    hidden: Sequence[int] = (300, 100),
    dataset: str = "digits",
    threads: int = 2,
    progress=None,
    plain_max: int = PLAIN_MAX,
    repeats: int = 3,
) -> list[dict]:
    """Time the plain loop and the engine on the same networks for every (population, sparsity).

    `progress`, if given, is an object with `phase(label, total)` and `advance(amount)` (like
    `sparsearch.experiment.Progress`); it counts network-epochs and is only called outside the
    timed regions. Each method is timed `repeats` times and its fastest run is kept (as `timeit`
    does: interference from other processes only ever adds time). Returns one row per
    (population, sparsity) with the keys of `ROW_KEYS`.
    """
    # The experiment schema validates what the two share (widths, sparsities, dataset, epochs).
    config = config_from_dict(
        {
            "data": {"name": dataset},
            "parent": {"hidden": list(hidden)},
            "train": {"epochs": epochs},
            "search": {"sparsities": list(sparsities)},
            "engine": {"threads": threads},
        }
    )
    data = load_dataset(config.data)
    recipe = config.train
    widths = parent_widths(data.n_features, config.parent.hidden, data.n_classes)
    progress = progress or Progress()

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        # Warm-up: thread pool, allocator and kernels, on a tiny run of both methods.
        tiny, warm_recipe = _subset(data, 4 * recipe.batch_size), recipe.model_copy(update={"epochs": 1})
        warm = bench_networks(widths, config.search.sparsities[0], [0, 1])
        plain_train_population(warm, [0, 1], tiny, warm_recipe)
        train_population(warm, [0, 1], tiny, warm_recipe)

        per_sparsity = sum((min(p, plain_max) + p) * epochs for p in populations)
        progress.phase("benchmark", per_sparsity * len(sparsities) * repeats)
        rows = []
        for sparsity in config.search.sparsities:
            for population in populations:
                seeds = list(range(population))
                layers = bench_networks(widths, sparsity, seeds)
                timed = min(population, plain_max)
                plain_seconds, engine_seconds = math.inf, math.inf
                for _ in range(repeats):
                    plain_seconds = min(plain_seconds, _time_plain(layers, seeds[:timed], data, recipe, progress))
                    engine_seconds = min(engine_seconds, _time_engine(layers, seeds, data, recipe, progress))
                plain_rate = timed * epochs / plain_seconds
                engine_rate = population * epochs / engine_seconds
                rows.append(
                    {
                        "dataset": dataset,
                        "hidden": list(config.parent.hidden),
                        "population": population,
                        "node_sparsity": float(sparsity),
                        "epochs": epochs,
                        "plain_net_epochs_per_s": plain_rate,
                        "engine_net_epochs_per_s": engine_rate,
                        "speedup": engine_rate / plain_rate,
                        "plain_networks_timed": timed,
                    }
                )
        return rows
    finally:
        torch.set_num_threads(previous_threads)


# ---------------------------------------------------------------- output


_COLUMNS = (
    ("dataset", "dataset", "<", lambda r: str(r["dataset"])),
    ("hidden", "hidden", "<", lambda r: "-".join(str(w) for w in r["hidden"])),
    ("P", "population", ">", lambda r: str(r["population"])),
    ("node sparsity", "node_sparsity", ">", lambda r: f"{r['node_sparsity']:.2f}"),
    ("epochs", "epochs", ">", lambda r: str(r["epochs"])),
    ("plain net-epochs/s", "plain_net_epochs_per_s", ">", lambda r: f"{r['plain_net_epochs_per_s']:.1f}"),
    ("engine net-epochs/s", "engine_net_epochs_per_s", ">", lambda r: f"{r['engine_net_epochs_per_s']:.1f}"),
    ("speedup", "speedup", ">", lambda r: f"{r['speedup']:.2f}x"),
    ("plain timed on", "plain_networks_timed", ">", lambda r: str(r["plain_networks_timed"])),
)


def format_table(rows: list[dict]) -> str:
    """The rows as a plain-text table with fixed-width columns (fit for a terminal or a docs code block)."""
    cells = [[fmt(row) for _, _, _, fmt in _COLUMNS] for row in rows]
    headers = [title for title, _, _, _ in _COLUMNS]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        return "  ".join(f"{v:{align}{w}}" for v, w, (_, _, align, _) in zip(values, widths, _COLUMNS)).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(c) for c in cells]
    return "\n".join(out)
