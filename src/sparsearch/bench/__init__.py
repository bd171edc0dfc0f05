"""Throughput benchmark: the same networks trained several ways, side by side in one process.

MLP workloads (parent kind `mlp`), five methods:
(a) `plain`: one `nn.Module` per network (the parent's `module()`), its own optimizer, one
    network after another;
(b) `torch.func`: stack_module_state + functional_call + vmap ensembling;
(c) `engine-masked`: the population engine on the parent's shapes with node masks as
    multiplicative weight masks (no compaction);
(d) `engine`: the population engine on compacted node masks;
(e) `engine-bf16`: the same in bf16 mixed precision (engine/precision.py).

Conv workloads (`cnn1d` on MNIST-1D, `lenet5` on digits), four methods: `plain` and
`torch.func` as above (vmap's batching rule for a convolution is one grouped convolution), and
the population engine in each of nets/conv.py's two forms: `engine-im2col` (every convolution
as one batched im2col matmul) and `engine-grouped` (every convolution as one grouped
convolution, `groups` = P). The engine uses im2col for 1-D and grouped for 2-D parents.
The CIFAR-10 parents (`conv4`, Frankle & Carbin's Conv-4, and `resnet20`) train on
CIFAR-shaped noise (bench/data.py) with three methods: `plain`, `torch.func` and `engine` (the
engine's own form; ResNet-20 has only one). `device` runs every method (and the matmul peaks)
on a GPU: benchmarks/gpu_check.py.

All methods of a workload do the same work: network p is the parent of seed p with the random
node mask drawn from `generator("bench-mask", p, s)`, it reads data in the order of seed p, and
every method trains the same epochs, batch size and optimizer and evaluates validation and test
accuracy after every epoch. MLP workloads use the default recipe (SGD, lr 0.05, momentum 0.9,
batch 64), conv workloads the MNIST-1D CNN paper's (Adam, lr 0.01, batch 100:
examples/mnist1d-cnn-node.toml). tests/test_bench.py checks the methods compute the same losses
(bf16 to its own precision).

Figures per method: networks x epochs per second (the plain loop is timed on at most
`plain_max` networks and its per-network rate used for all P: its time is linear in P), the
ratio to plain, executed GFLOP/s (forward + backward = 3x the forward FLOPs of the parent's
`cost`, evaluation forwards included; the masked engine executes the parent's dense shapes) and
its fraction of the measured `torch.mm` peak of its precision, for conv workloads its fraction of
the conv ceiling (ceiling.py: the workload's convolutions and dense products alone, in the
engine's population form, at the training shapes), and the process's peak RSS while the method
ran. Beside them, `step.py` times one training step of each dense MLP shape against
the GEMMs it contains, in fp32 and bf16.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from ..config import ParentConfig, TrainConfig, config_from_dict
from ..data import Dataset
from ..engine.allocator import freed_memory_kept
from ..engine.device import dataset_on
from ..engine.precision import DTYPES
from ..engine.trainer import train_population
from ..errors import SparsearchError
from ..nets import build_parent, check_settings
from ..nets.base import Params, Parent, joined, rows as network, stacked
from ..progress import Progress
from ..seeding import generator
from ..spaces.node import NodeMask, full_mask, sample_mask
from .ceiling import conv_ceiling
from .data import CIFAR_SHAPED, bench_dataset
from .ensemble import ensemble_train
from .measure import PeakRSS, matmul_peak_gflops, synchronize, training_flops
from .plain import plain_train
from .step import step_row

PLAIN_MAX = 16
METHODS = ("plain", "torch.func", "engine-masked", "engine", "engine-bf16")
CONV_METHODS = ("plain", "torch.func", "engine-im2col", "engine-grouped")
ONE_FORM_METHODS = ("plain", "torch.func", "engine")
"""Parent kinds timed in the engine's own form only (`resnet20` has one; `conv4` as the engine runs it)."""
TWO_FORM_KINDS = ("cnn1d", "lenet5")
CONV_KINDS = ("cnn1d", "lenet5", "conv4", "resnet20")
"""The conv workloads' parent kinds: cnn1d on MNIST-1D, LeNet-5 on digits, Conv-4 and ResNet-20
on CIFAR-shaped data."""
DEFAULT_CONV_KINDS = ("cnn1d", "lenet5")
"""Those a default `sparsearch bench` runs: Conv-4 and ResNet-20 at P = 16 take minutes per method
on 2 cores, so they run when asked for (`--conv-kinds`)."""
CONV_DATASETS = {"cnn1d": "mnist1d", "lenet5": "digits", "conv4": CIFAR_SHAPED, "resnet20": CIFAR_SHAPED}
CONV_RECIPE = {"batch_size": 100, "optimizer": "adam", "lr": 0.01}
"""The MNIST-1D CNN paper's recipe (examples/mnist1d-cnn-node.toml), for every conv workload."""
VIT_RECIPE = {"batch_size": 64, "optimizer": "adamw", "lr": 0.002, "weight_decay": 0.05}
"""The vit workload's recipe: examples/digits-vit-node.toml's (without its schedule)."""


def vit_workloads(populations=(16,)) -> list[Workload]:
    """The dense `vit` parent at its defaults on digits (2x2 patches, 2 blocks of width 64, 4
    heads), at every population: its engine (attention as batched GEMMs over networks x heads)
    against the plain loop and torch.func."""
    return [Workload("digits", (), p, 0.0, "vit") for p in populations]


@dataclass(frozen=True)
class Workload:
    dataset: str
    hidden: tuple[int, ...]  # an MLP's hidden widths (conv kinds: their published widths, hidden = ())
    population: int
    sparsity: float
    kind: str = "mlp"

    @property
    def methods(self) -> tuple[str, ...]:
        if self.kind == "mlp":
            return METHODS
        return CONV_METHODS if self.kind in TWO_FORM_KINDS else ONE_FORM_METHODS


def mlp_workloads(populations=(1, 16, 64, 256), sparsities=(0.0, 0.5, 0.9), extra: bool = True) -> list[Workload]:
    """The issue's grid: the default digits MLP at every population and node sparsity, and (with
    `extra`) an MNIST-1D MLP, a tall-and-thin and a wide network."""
    grid = [Workload("digits", (300, 100), p, s) for s in sparsities for p in populations]
    return grid + ([
        Workload("mnist1d", (300, 100), 64, 0.0),
        Workload("digits", (32,) * 6, 64, 0.0),
        Workload("digits", (2048,), 16, 0.0),
    ] if extra else [])


def conv_workloads(populations=(16, 64), kinds: Sequence[str] = DEFAULT_CONV_KINDS) -> list[Workload]:
    """Dense conv parents of `kinds` on their datasets (`CONV_DATASETS`): the MNIST-1D CNN
    (`cnn1d`) at every population, the others (LeNet-5, Conv-4, ResNet-20) at the first."""
    unknown = [k for k in kinds if k not in CONV_KINDS]
    if unknown:
        raise SparsearchError(f"--conv-kinds: unknown {', '.join(map(repr, unknown))}; the conv workloads are "
                              f"{', '.join(CONV_KINDS)}")
    return [Workload(CONV_DATASETS[kind], (), p, 0.0, kind) for kind in CONV_KINDS if kind in kinds
            for p in (populations if kind == "cnn1d" else populations[:1])]


def default_workloads(populations=(1, 16, 64, 256), sparsities=(0.0, 0.5, 0.9), conv_populations=(16, 64)):
    """What a default `sparsearch bench` runs."""
    return mlp_workloads(populations, sparsities) + conv_workloads(conv_populations)


@dataclass
class BenchResult:
    """The measured `torch.mm` peaks (GFLOP/s by precision), one row per (workload, method),
    and one step row per dense MLP shape."""

    peaks: dict[str, float]
    rows: list[dict]
    steps: list[dict]


@dataclass
class Networks:
    """The P networks of a workload: unstacked parents and node masks, in every layout the
    methods need."""

    parent: Parent
    seeds: list[int]
    parents: list[Params]
    masks: list[NodeMask]

    @classmethod
    def build(cls, parent: Parent, sparsity: float, population: int) -> "Networks":
        seeds = list(range(population))
        hidden = parent.widths[1:-1]
        return cls(
            parent,
            seeds,
            [parent.init(s) for s in seeds],
            [sample_mask(hidden, sparsity, generator("bench-mask", s, sparsity)) for s in seeds],
        )

    def compacted(self) -> Params:
        return joined([self.parent.compact(params, [mask]) for params, mask in zip(self.parents, self.masks)])

    def forward_flops(self, dense: bool = False) -> int:
        """Forward FLOPs per example of one compacted network (`dense`: of the parent); the
        masks of a workload keep equal counts, so network 0 stands for all."""
        return self.parent.cost(full_mask(self.parent.widths[1:-1]) if dense else self.masks[0]).flops

    def masked(self) -> tuple[Params, list[torch.Tensor]]:
        """Parent-shaped stacked layers and bool weight masks [P, in, out] from the node masks (MLP)."""
        widths = self.parent.widths
        layers = stacked(self.parents)
        units = [torch.ones(len(self.seeds), widths[0], dtype=torch.bool)]
        for i, width in enumerate(widths[1:-1]):
            keep = torch.zeros(len(self.seeds), width, dtype=torch.bool)
            for p, mask in enumerate(self.masks):
                keep[p, list(mask.keep[i])] = True
            units.append(keep)
        units.append(torch.ones(len(self.seeds), widths[-1], dtype=torch.bool))
        return layers, [a.unsqueeze(2) & b.unsqueeze(1) for a, b in zip(units[:-1], units[1:])]


def train_with(method: str, nets: Networks, data: Dataset, recipe: TrainConfig, device: str = "cpu") -> None:
    """Train every network of `nets` with one method on `device` (`data` on the CPU)."""
    parent = nets.parent
    if method in ("plain", "torch.func"):
        compacted = nets.compacted()
        models = [parent.module(network(compacted, p)).to(device) for p in range(len(nets.seeds))]
        on_device = dataset_on(data, device)
        if method == "plain":
            for model, seed in zip(models, nets.seeds):
                plain_train(model, seed, on_device, recipe)
        else:
            ensemble_train(models, nets.seeds, on_device, recipe)
    elif method == "engine-masked":
        layers, masks = nets.masked()
        train_population(parent, layers, nets.seeds, data, recipe, masks=masks, device=device)
    elif method in ("engine-im2col", "engine-grouped"):
        layout = method.removeprefix("engine-")
        train_population(dataclasses.replace(parent, layout=layout), nets.compacted(), nets.seeds, data, recipe,
                         device=device)
    else:
        train_population(parent, nets.compacted(), nets.seeds, data, recipe,
                         precision="bf16" if method == "engine-bf16" else "fp32", device=device)


def run_bench(
    workloads: Sequence[Workload],
    epochs: int = 3,
    threads: int = 2,
    plain_max: int = PLAIN_MAX,
    repeats: int = 2,
    methods: Sequence[str] | None = None,
    progress: Progress | None = None,
    step_shapes: bool = True,
    device: str = "cpu",
    datasets: Mapping[str, Dataset] | None = None,
    peaks: Mapping[str, float] | None = None,
) -> BenchResult:
    """Time every method of each workload's kind (those in `methods`, when given) on every
    workload, and (with `step_shapes`) one training step of each dense MLP shape. Each timing is
    the fastest of `repeats` (interference from other processes only ever adds time), every method
    with the allocator settings a run has (engine/allocator.py). Training
    and the matmul peaks run on `device` (a resolved one); `datasets` gives a workload's data by
    its dataset name (default: loaded by name); `peaks` the matmul peaks (default: measured)."""
    progress = progress or Progress()
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        recipes = [workload_recipe(w, epochs, threads) for w in workloads]  # validates every workload first
        peaks = dict(peaks or {name: matmul_peak_gflops(dtype=dtype, device=device) for name, dtype in DTYPES.items()})
        datasets = dict(datasets or {})
        for w in workloads:
            if w.dataset not in datasets:
                datasets[w.dataset] = bench_dataset(w.dataset)
        parents = [workload_parent(w, datasets[w.dataset]) for w in workloads]
        chosen = [[m for m in w.methods if methods is None or m in methods] for w in workloads]
        shapes = sorted({(parent.widths, w.population) for w, parent in zip(workloads, parents)
                         if w.kind == "mlp" and w.sparsity == 0}) if step_shapes else []
        progress.phase("benchmark", sum(map(len, chosen)) + len(shapes) + sum(w.kind in CONV_KINDS for w in workloads))
        rows = []
        for w, parent, recipe, w_methods in zip(workloads, parents, recipes, chosen):
            data = datasets[w.dataset]
            timed = {m: min(w.population, plain_max) if m == "plain" else w.population for m in w_methods}
            nets = {m: Networks.build(parent, w.sparsity, timed[m]) for m in w_methods}
            ceiling = None
            if w.kind in CONV_KINDS:
                batch = min(recipe.batch_size, data.x_train.shape[0])
                ceiling = conv_ceiling(parent, Networks.build(parent, w.sparsity, w.population).compacted(), batch,
                                       repeats, device).gflops
                progress.advance(1)
            for m in w_methods:  # warm-up: kernels, thread pool, allocator
                train_with(m, Networks.build(parent, w.sparsity, 1), _first_batches(data, recipe), _one_epoch(recipe),
                           device)
            results = {}
            for m in w_methods:
                seconds, rss = math.inf, 0
                with freed_memory_kept():  # as in a run, every method; handed back before the next
                    for _ in range(repeats):
                        with PeakRSS() as memory:
                            synchronize(device)
                            start = time.perf_counter()
                            train_with(m, nets[m], data, recipe, device)
                            synchronize(device)
                            seconds = min(seconds, time.perf_counter() - start)
                        rss = max(rss, memory.peak)
                results[m] = (timed[m] * epochs / seconds, rss)
                progress.advance(1)
            plain_rate = results.get("plain", (math.nan,))[0]
            n_eval = data.x_val.shape[0] + data.x_test.shape[0]
            for m, (rate, rss) in results.items():
                flops = nets[m].forward_flops(dense=m == "engine-masked")
                gflops = rate * training_flops(flops, data.x_train.shape[0], n_eval) / 1e9
                rows.append({
                    "dataset": w.dataset, "kind": w.kind, "hidden": list(w.hidden), "population": w.population,
                    "node_sparsity": w.sparsity, "epochs": epochs, "batch_size": recipe.batch_size,
                    "optimizer": recipe.optimizer, "lr": recipe.lr, "method": m, "networks_timed": timed[m],
                    "net_epochs_per_s": rate, "vs_plain": rate / plain_rate, "gflops": gflops,
                    "peak_fraction": gflops / peaks["bf16" if m == "engine-bf16" else "fp32"],
                    "ceiling_gflops": ceiling, "ceiling_fraction": None if ceiling is None else gflops / ceiling,
                    "peak_rss_mb": rss / 2**20,
                })
        steps = []
        for widths, population in shapes:
            steps.append(step_row(widths, population, TrainConfig(epochs=epochs).batch_size))
            progress.advance(1)
        return BenchResult(peaks, rows, steps)
    finally:
        torch.set_num_threads(previous)


def workload_recipe(w: Workload, epochs: int, threads: int) -> TrainConfig:
    """The workload's recipe (the default one for an MLP, VIT_RECIPE for vit, CONV_RECIPE for a conv kind), after
    the experiment schema has validated the workload."""
    parent = {"kind": w.kind, **({"hidden": list(w.hidden)} if w.kind == "mlp" else {})}
    train = {"epochs": epochs, **({} if w.kind == "mlp" else VIT_RECIPE if w.kind == "vit" else CONV_RECIPE)}
    config = config_from_dict({
        "data": {"name": w.dataset}, "parent": parent, "search": {"sparsities": [w.sparsity]}, "train": train,
        "engine": {"threads": threads},
    })
    check_settings(config, [w.sparsity])
    return config.train


def workload_parent(w: Workload, data: Dataset) -> Parent:
    """The workload's parent at the data's shape, refusing a sparsity that empties a node group."""
    config = ParentConfig(kind=w.kind, hidden=list(w.hidden)) if w.kind == "mlp" else ParentConfig(kind=w.kind)
    parent = build_parent(config, data.shape, data.n_classes)
    parent.check_node_sparsities([w.sparsity])
    return parent


def _one_epoch(recipe: TrainConfig) -> TrainConfig:
    return recipe.model_copy(update={"epochs": 1})


def _first_batches(data: Dataset, recipe: TrainConfig) -> Dataset:
    """The first few batches' worth of every split (for warming up)."""
    n = 4 * recipe.batch_size
    return dataclasses.replace(data, x_train=data.x_train[:n], y_train=data.y_train[:n], x_val=data.x_val[:n],
                               y_val=data.y_val[:n], x_test=data.x_test[:n], y_test=data.y_test[:n])


def workload_label(r: dict) -> str:
    shape = "-".join(map(str, r["hidden"])) if r.get("kind", "mlp") == "mlp" else r["kind"]
    return f"{r['dataset']} {shape} P={r['population']} s={r['node_sparsity']:g}"


COLUMNS = (
    ("workload", "<", workload_label),
    ("method", "<", lambda r: r["method"]),
    ("net-epochs/s", ">", lambda r: f"{r['net_epochs_per_s']:.1f}"),
    ("vs plain", ">", lambda r: f"{r['vs_plain']:.2f}x"),
    ("GFLOP/s", ">", lambda r: f"{r['gflops']:.1f}"),
    ("% of mm peak", ">", lambda r: f"{100 * r['peak_fraction']:.0f}%"),
    ("% of ceiling", ">", lambda r: f"{100 * r['ceiling_fraction']:.0f}%" if r.get("ceiling_fraction") else "-"),
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
