"""Throughput benchmark: the same networks trained five ways, side by side in one process.

(a) `plain`: one `nn.Sequential` per network, its own optimizer, one network after another;
(b) `torch.func`: stack_module_state + functional_call + vmap ensembling;
(c) `engine-masked`: the population engine on the parent's shapes with node masks as
    multiplicative weight masks (no compaction);
(d) `engine`: the population engine on compacted node masks;
(e) `engine-bf16`: the same in bf16 mixed precision (engine/precision.py).

All five do the same work: network p is the parent of seed p with the random node mask drawn
from `generator("bench-mask", p, s)`, it reads data in the order of seed p, and every method
trains the same epochs, batch size and optimizer (the default recipe) and evaluates validation
and test accuracy after every epoch. tests/test_bench.py checks they compute the same losses (bf16 to its own precision).

Figures per method: networks x epochs per second (the plain loop is timed on at most
`plain_max` networks and its per-network rate used for all P: its time is linear in P), the
ratio to plain, executed GFLOP/s (forward + backward multiply-adds x 2, evaluation forwards
included; the masked engine executes the parent's dense shapes) and its fraction of the
measured `torch.mm` peak of its precision, and the process's peak RSS while the method ran.
Beside them, `step.py` times one training step of each dense shape against the GEMMs it
contains, in fp32 and bf16.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..config import TrainConfig, config_from_dict
from ..data import Dataset, load_dataset
from ..engine.precision import DTYPES
from ..engine.trainer import train_population
from ..progress import Progress
from ..nets.base import joined, stacked
from ..nets.mlp import MLP, Layers, init_parent, parent_widths
from ..seeding import generator
from ..spaces.node import NodeMask, compact, sample_mask
from .ensemble import ensemble_train
from .measure import PeakRSS, matmul_peak_gflops, training_flops
from .step import step_row
from .plain import plain_train

PLAIN_MAX = 16
METHODS = ("plain", "torch.func", "engine-masked", "engine", "engine-bf16")


@dataclass(frozen=True)
class Workload:
    dataset: str
    hidden: tuple[int, ...]
    population: int
    sparsity: float


def default_workloads(populations=(1, 16, 64, 256), sparsities=(0.0, 0.5, 0.9)) -> list[Workload]:
    """The issue's grid: the default digits MLP at every population and node sparsity, an
    MNIST-1D MLP, a tall-and-thin and a wide network."""
    grid = [Workload("digits", (300, 100), p, s) for s in sparsities for p in populations]
    return grid + [
        Workload("mnist1d", (300, 100), 64, 0.0),
        Workload("digits", (32,) * 6, 64, 0.0),
        Workload("digits", (2048,), 16, 0.0),
    ]


@dataclass
class BenchResult:
    """The measured `torch.mm` peaks (GFLOP/s by precision), one row per (workload, method),
    and one step row per dense shape."""

    peaks: dict[str, float]
    rows: list[dict]
    steps: list[dict]


@dataclass
class Networks:
    """The P networks of a workload, in both layouts the methods need."""

    widths: tuple[int, ...]
    seeds: list[int]
    parents: list[Layers]
    masks: list[NodeMask]

    @classmethod
    def build(cls, widths: tuple[int, ...], sparsity: float, population: int) -> "Networks":
        seeds = list(range(population))
        hidden = widths[1:-1]
        return cls(
            widths,
            seeds,
            [init_parent(widths, s) for s in seeds],
            [sample_mask(hidden, sparsity, generator("bench-mask", s, sparsity)) for s in seeds],
        )

    def compacted(self) -> Layers:
        parts = [compact(parent, [mask]) for parent, mask in zip(self.parents, self.masks)]
        return joined(parts)

    def compact_widths(self) -> tuple[int, ...]:
        return (self.widths[0], *(len(layer) for layer in self.masks[0].keep), self.widths[-1])

    def masked(self) -> tuple[Layers, list[torch.Tensor]]:
        """Parent-shaped stacked layers and bool weight masks [P, in, out] from the node masks."""
        layers = stacked(self.parents)
        units = [torch.ones(len(self.seeds), self.widths[0], dtype=torch.bool)]
        for i, width in enumerate(self.widths[1:-1]):
            keep = torch.zeros(len(self.seeds), width, dtype=torch.bool)
            for p, mask in enumerate(self.masks):
                keep[p, list(mask.keep[i])] = True
            units.append(keep)
        units.append(torch.ones(len(self.seeds), self.widths[-1], dtype=torch.bool))
        return layers, [a.unsqueeze(2) & b.unsqueeze(1) for a, b in zip(units[:-1], units[1:])]


def train_with(method: str, nets: Networks, data: Dataset, recipe: TrainConfig) -> None:
    """Train every network of `nets` with one method."""
    if method == "plain":
        compacted = nets.compacted()
        for p, seed in enumerate(nets.seeds):
            plain_train([(w[p], b[p]) for w, b in compacted], seed, data, recipe)
    elif method == "torch.func":
        ensemble_train(nets.compacted(), nets.seeds, data, recipe)
    elif method == "engine-masked":
        layers, masks = nets.masked()
        train_population(MLP(nets.widths), layers, nets.seeds, data, recipe, masks=masks)
    else:
        train_population(MLP(nets.widths), nets.compacted(), nets.seeds, data, recipe,
                         precision="bf16" if method == "engine-bf16" else "fp32")


def run_bench(
    workloads: Sequence[Workload],
    epochs: int = 3,
    threads: int = 2,
    plain_max: int = PLAIN_MAX,
    repeats: int = 2,
    methods: Sequence[str] = METHODS,
    progress: Progress | None = None,
    step_shapes: bool = True,
) -> BenchResult:
    """Time every method on every workload, and (with `step_shapes`) one training step of each
    dense shape. Each timing is the fastest of `repeats` (interference from other processes
    only ever adds time)."""
    progress = progress or Progress()
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        peaks = {name: matmul_peak_gflops(dtype=dtype) for name, dtype in DTYPES.items()}
        recipe = _recipe(workloads, epochs, threads)
        datasets = {w.dataset: load_dataset(config_from_dict({"data": {"name": w.dataset}}).data) for w in workloads}
        shapes = sorted({(parent_widths(datasets[w.dataset].n_features, w.hidden, datasets[w.dataset].n_classes),
                          w.population) for w in workloads if w.sparsity == 0}) if step_shapes else []
        progress.phase("benchmark", len(workloads) * len(methods) + len(shapes))
        rows = []
        for w in workloads:
            data = datasets[w.dataset]
            widths = parent_widths(data.n_features, w.hidden, data.n_classes)
            timed = {m: min(w.population, plain_max) if m == "plain" else w.population for m in methods}
            nets = {m: Networks.build(widths, w.sparsity, timed[m]) for m in methods}
            for m in methods:  # warm-up: kernels, thread pool, allocator
                train_with(m, Networks.build(widths, w.sparsity, 1), _first_batches(data, recipe), _one_epoch(recipe))
            results = {}
            for m in methods:
                seconds, rss = math.inf, 0
                for _ in range(repeats):
                    with PeakRSS() as memory:
                        start = time.perf_counter()
                        train_with(m, nets[m], data, recipe)
                        seconds = min(seconds, time.perf_counter() - start)
                    rss = max(rss, memory.peak)
                results[m] = (timed[m] * epochs / seconds, rss)
                progress.advance(1)
            plain_rate = results.get("plain", (math.nan,))[0]
            n_eval = data.x_val.shape[0] + data.x_test.shape[0]
            for m, (rate, rss) in results.items():
                executed = widths if m == "engine-masked" else nets[m].compact_widths()
                gflops = rate * training_flops(executed, data.x_train.shape[0], n_eval) / 1e9
                rows.append({
                    "dataset": w.dataset, "hidden": list(w.hidden), "population": w.population,
                    "node_sparsity": w.sparsity, "epochs": epochs, "method": m, "networks_timed": timed[m],
                    "net_epochs_per_s": rate, "vs_plain": rate / plain_rate, "gflops": gflops,
                    "peak_fraction": gflops / peaks["bf16" if m == "engine-bf16" else "fp32"],
                    "peak_rss_mb": rss / 2**20,
                })
        steps = []
        for widths, population in shapes:
            steps.append(step_row(widths, population, recipe.batch_size))
            progress.advance(1)
        return BenchResult(peaks, rows, steps)
    finally:
        torch.set_num_threads(previous)


def _recipe(workloads: Sequence[Workload], epochs: int, threads: int) -> TrainConfig:
    """The default recipe, after the experiment schema has validated the workloads."""
    for w in workloads:
        config_from_dict({
            "data": {"name": w.dataset}, "parent": {"hidden": list(w.hidden)},
            "search": {"sparsities": [w.sparsity]}, "train": {"epochs": epochs}, "engine": {"threads": threads},
        })
    return TrainConfig(epochs=epochs)


def _one_epoch(recipe: TrainConfig) -> TrainConfig:
    return recipe.model_copy(update={"epochs": 1})


def _first_batches(data: Dataset, recipe: TrainConfig) -> Dataset:
    """The first few batches' worth of every split (for warming up)."""
    n = 4 * recipe.batch_size
    return Dataset(data.name, data.x_train[:n], data.y_train[:n], data.x_val[:n], data.y_val[:n], data.x_test[:n],
                   data.y_test[:n], data.n_classes)


COLUMNS = (
    ("workload", "<", lambda r: f"{r['dataset']} {'-'.join(map(str, r['hidden']))} P={r['population']} "
                                f"s={r['node_sparsity']:g}"),
    ("method", "<", lambda r: r["method"]),
    ("net-epochs/s", ">", lambda r: f"{r['net_epochs_per_s']:.1f}"),
    ("vs plain", ">", lambda r: f"{r['vs_plain']:.2f}x"),
    ("GFLOP/s", ">", lambda r: f"{r['gflops']:.1f}"),
    ("% of mm peak", ">", lambda r: f"{100 * r['peak_fraction']:.0f}%"),
    ("peak RSS MB", ">", lambda r: f"{r['peak_rss_mb']:.0f}"),
    ("timed on", ">", lambda r: str(r["networks_timed"])),
)


def format_table(rows: list[dict], columns=COLUMNS) -> str:
    """The rows as a fixed-width plain-text table (for a terminal or a docs code block)."""
    cells = [[fmt(row) for _, _, fmt in columns] for row in rows]
    headers = [title for title, _, _ in columns]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        return "  ".join(f"{v:{align}{w}}" for v, w, (_, align, _) in zip(values, widths, columns)).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *(line(c) for c in cells)])
