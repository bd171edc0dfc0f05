"""Run an elastic-space experiment: per seed, train (or load) the super-network, run every
search strategy with the same budget of real (inherited-weight) evaluations, and retrain a
sample of the front from scratch to check how well inherited accuracy ranks sub-networks."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

import numpy as np

from ..config import Config, to_toml
from ..data import Dataset
from ..engine import RECIPE_VERSION
from ..engine.device import dataset_on, moved, resolve_device
from ..engine.precision import dtype_of
from ..engine.executor import IN_PROCESS, Executor
from ..engine.memory import check_training, refuse_over
from ..engine.trainer import Trainer
from ..errors import SparsearchError
from ..analysis.convergence import trial_metrics
from ..moo import non_dominated, search
from ..nets import build_parent
from ..nets.base import Parent, Params, joined, rows, stacked
from ..progress import Progress
from ..seeding import stable_seed
from ..specs import SearchSpec, SupernetSpec
from ..spaces.elastic import ElasticSpace
from ..store import Store
from .depth import compacted, sub_network, sub_network_cost
from .checks import check_space, group_names
from .evaluate import inherited_scores
from .masking import Multipliers
from . import records
from .latency import LatencyTable, measured_latency
from .train import train_supernet


class Objectives:
    """Real evaluations of configurations: inherited validation accuracy and costs, as
    minimized objectives [1 - accuracy, cost / parent cost, ...]; remembers every detail.
    Latency: an MLP's from the per-layer table (`table`), any other kind's measured on the run's
    device for each configuration's compacted sub-network (`measured_latency`, as mask studies
    time their trials, `[measure]`'s warm-up and repeats), once per configuration and run
    (`measured`, shared across seeds)."""

    def __init__(self, config: Config, data: Dataset, parent: Parent, space: ElasticSpace, supernet: Params,
                 table: LatencyTable | None, measured: dict[tuple, float]):
        self.config, self.parent_net, self.space, self.table, self.measured = config, parent, space, table, measured
        self.device = resolve_device(config.engine.device)
        self.data = dataset_on(data, self.device)
        self.weights = supernet
        self.supernet = moved(supernet, self.device)
        self.multipliers = Multipliers(parent, supernet, space, self.device)
        params, flops = sub_network_cost(parent, space, space.largest())
        self.parent = {"params": params, "flops": flops, "widths": list(parent.widths)}
        if "latency" in config.supernet.objectives:
            self.parent["latency"] = self.latency(space.largest())
        self.details: dict[tuple, dict] = {}

    def __call__(self, configs: np.ndarray) -> np.ndarray:
        acc, loss = inherited_scores(self.parent_net, self.supernet, self.multipliers, configs, self.data,
                                     self.data.x_val, self.data.y_val, self.config.engine.max_memory,
                                     dtype_of(self.config.engine.precision))
        out = []
        for c, a, l in zip(configs, acc, loss):
            widths = self.space.widths(c)
            params, flops = sub_network_cost(self.parent_net, self.space, c)
            detail = {"config": [int(v) for v in c], "widths": list(widths), "val_acc": float(a),
                      "val_loss": float(l) if np.isfinite(l) else None, "params": params, "flops": flops,
                      "latency": self.latency(c) if "latency" in self.config.supernet.objectives else None}
            self.details[tuple(int(v) for v in c)] = detail
            out.append(self.objectives(detail))
        return np.array(out)

    def latency(self, config) -> float:
        """Seconds per forward of a batch of `[supernet] latency_batch` of a configuration's sub-network."""
        batch = self.config.supernet.latency_batch
        if self.table is not None:
            return self.table.network((self.parent_net.widths[0], *self.space.widths(config),
                                       self.parent_net.widths[-1]), batch)
        key = tuple(int(v) for v in config)
        if key not in self.measured:
            sub, params = compacted(self.parent_net, self.space, self.weights, config)
            self.measured[key] = measured_latency(sub.module(rows(params, 0)).eval(), (self.parent_net.widths[0],),
                                                  batch, self.config.engine.thread_choice.count, self.device,
                                                  warmup=self.config.measure.warmup,
                                                  repeats=self.config.measure.repeats)
        return self.measured[key]

    def objectives(self, detail: dict) -> list[float]:
        return [1 - detail["val_acc"]] + [detail[name] / self.parent[name] for name in self.config.supernet.objectives]


@dataclass(frozen=True)
class SupernetRun:
    """What one run of a super-network search did."""

    searched: int  # searches run by this call
    reused: int  # searches found in the store


def elastic_space(config: Config, parent: Parent) -> ElasticSpace:
    """The elastic space of the config's `[supernet]` over the parent's node groups (and, with
    `depths`, its stages of blocks: resnet20's three, vit's one)."""
    depths = config.supernet.depths or ()
    return ElasticSpace(tuple(parent.widths[1:-1]), tuple(config.supernet.widths), tuple(depths),
                        len(parent.blocks) if depths else 0)


def check_data(config: Config, data: Dataset) -> None:
    """What needs the data, checked before the store is touched: the parent at the data's shape,
    widths that keep a unit of every node group, no more evaluations than configurations, the
    super-network training within `[engine] max_memory_gb`, and so a latency measurement at
    `latency_batch` (the parent's tensors, its input and two of its widest activations, the most
    a forward holds at once: 4 bytes a float)."""
    parent = build_parent(config.parent, data.shape, data.n_classes)
    depths = config.supernet.depths or []
    if depths and not all(1 <= d <= min(parent.blocks) for d in depths):
        most = min(parent.blocks)
        raise SparsearchError(f"supernet.depths: blocks kept per stage must be in 1..{most}, got {depths}; keep "
                              f"depths of 1 to {most} (the fewest blocks a stage of this parent has)")
    check_space(config, elastic_space(config, parent), group_names(parent))
    check_training(parent, config)
    params = parent.init(0)
    weights = sum(t.numel() for layer in params for t in layer)
    batch = config.supernet.latency_batch
    _, widest = parent.footprint(stacked([params]), batch)
    refuse_over(4 * (weights + batch * (parent.widths[0] + 2 * widest)), "supernet.latency_batch", batch,
                "timing the super-network's latency", "use a smaller batch (1 is a single request) or raise "
                "engine.max_memory_gb", config.engine.max_memory)


def run_supernet(config: Config, data: Dataset, store: Store, progress: Progress | None = None,
                 executor: Executor = IN_PROCESS) -> SupernetRun:
    """Run (or continue) the experiment in three progress phases, each ending at its total:
    training the super-networks the store lacks (epochs), the searches (real evaluations; a
    reused search counts whole) and the retraining of front configurations (network epochs).
    The super-networks train and are searched in this process; the retraining runs as
    populations on `executor`."""
    progress = progress or Progress()
    search_cfg = config.supernet
    parent = build_parent(config.parent, data.shape, data.n_classes)
    space = elastic_space(config, parent)
    name = config.experiment.name
    seeds = config.experiment.seed_list
    table = (LatencyTable(records.LatencyRows(store, config.engine.thread_choice.count))
             if "latency" in search_cfg.objectives and parent.kind == "mlp" else None)
    measured: dict[tuple, float] = {}
    supernets = _supernets(config, data, parent, space, store, seeds, progress)
    store.begin_experiment(name, to_toml(config), len(seeds) * len(search_cfg.strategies))
    progress.phase("searching", len(seeds) * len(search_cfg.strategies) * search_cfg.evaluations)
    searched = reused = 0
    searched_seeds = set()  # seeds with a search run now: their fronts may have changed
    for seed in seeds:
        supernet, key = supernets[seed]
        evaluate = Objectives(config, data, parent, space, supernet, table, measured)
        for strategy in search_cfg.strategies:
            search_key = SearchSpec(key, strategy, seed, tuple(search_cfg.objectives), search_cfg.evaluations,
                                    search_cfg.search_population, search_cfg.predictor, search_cfg.latency_batch).key
            if records.search_key(store, name, strategy, seed) == search_key:
                reused += 1
                progress.advance(search_cfg.evaluations)
                continue
            log = search(strategy, space.choices, evaluate, search_cfg.evaluations, stable_seed(strategy, seed),
                         population=search_cfg.search_population, predictor=search_cfg.predictor,
                         on_batch=_increments(progress.advance))
            rows = [evaluate.details[tuple(int(v) for v in c)] for c in log.configs]
            records.record_search(store, name, strategy, seed, search_key,
                                {"rounds": log.rounds, "parent": evaluate.parent, "supernet": key}, rows)
            searched += 1
            searched_seeds.add(seed)
    if search_cfg.retrain:
        _retrain_fronts(config, data, parent, space, store, name, seeds, searched_seeds, executor, progress)
    return SupernetRun(searched, reused)


def _increments(advance):
    """`search` reports the unique evaluations so far after each batch; a Progress advances by amounts."""
    done = 0

    def on_batch(evaluations: int) -> None:
        nonlocal done
        advance(evaluations - done)
        done = evaluations

    return on_batch


def supernet_key(config: Config, data: Dataset, parent: Parent, space: ElasticSpace, seed: int) -> str:
    """The key of one seed's super-network: an MLP's parent by its widths (as always), any other
    kind by its spec; `[supernet] depths` enters only when set (supernet_settings)."""
    described = tuple(parent.widths) if parent.kind == "mlp" else parent.spec()
    return SupernetSpec(RECIPE_VERSION, data.name, data.fingerprint, described, tuple(space.fractions), seed,
                        config.train.keyed(), config.supernet.keyed(), config.engine.precision).key


def _supernets(config, data, parent: Parent, space, store: Store, seeds,
               progress: Progress) -> dict[int, tuple[Params, str]]:
    """Per seed, the super-network (loaded, or trained and stored) and its key."""
    keys = {seed: supernet_key(config, data, parent, space, seed) for seed in seeds}
    stored = {seed: records.supernet(store, key) for seed, key in keys.items()}
    progress.phase("training super-networks", sum(s is None for s in stored.values()) * config.supernet.epochs)
    out = {}
    for seed, key in keys.items():
        if stored[seed] is not None:
            out[seed] = parent.from_state_dict(stored[seed][0]), key
            continue
        params, curves = train_supernet(parent, parent.init(seed), space, data, config, seed, on_epoch=progress.advance)
        records.record_supernet(store, key, parent.state_dict(params), curves)
        out[seed] = params, key
    return out


def _front_picks(config, store: Store, name: str, seed: int) -> list[dict]:
    """Up to `supernet.retrain` configurations of this seed's joint front, spread evenly along it."""
    rows = [r for r in records.evaluation_rows(store, name) if r["seed"] == seed]
    unique = {tuple(r["config"]): r for r in rows}
    points = np.array([[1 - r["val_acc"], r["params"]] for r in unique.values()])
    front = sorted((r for r, keep in zip(unique.values(), non_dominated(points)) if keep), key=lambda r: r["params"])
    return [front[i] for i in sorted({round(i) for i in np.linspace(0, len(front) - 1, config.supernet.retrain)})]


def _retrain_fronts(config, data, parent: Parent, space, store: Store, name: str, seeds, searched_seeds: set[int],
                    executor: Executor, progress: Progress) -> None:
    """Retrain each seed's front picks from scratch and record inherited vs retrained validation
    accuracy; a seed whose searches were all reused and whose picks are already retrained is kept."""
    stored = defaultdict(list)
    for row in records.retrained(store, name):
        stored[row["seed"]].append(row["config"])
    picks = {seed: _front_picks(config, store, name, seed) for seed in seeds}
    picks = {seed: rows for seed, rows in picks.items()
             if seed in searched_seeds or sorted(stored[seed]) != sorted(row["config"] for row in rows)}
    progress.phase("retraining front configurations", sum(map(len, picks.values())) * config.train.epochs)
    trainer = Trainer(parent, data, config.train, config.engine.max_memory, config.engine.max_population,
                      config.engine.precision, executor, resolve_device(config.engine.device))
    for seed in picks:
        by_shape = defaultdict(list)  # configurations of equal shapes (blocks and widths) train as one population
        for row in picks[seed]:
            by_shape[(space.blocks(row["config"]), tuple(row["widths"]))].append(row)
        retrained = []
        init = parent.init(seed)
        for group in by_shape.values():
            sub, _ = sub_network(parent, space, group[0]["config"])
            population = joined([compacted(parent, space, init, row["config"])[1] for row in group])
            curves = replace(trainer, parent=sub).train(population, [seed] * len(group), on_epoch=progress.advance)
            for p, row in enumerate(group):
                metrics = trial_metrics(curves.train_loss[p].tolist(), curves.val_acc[p].tolist(),
                                        curves.test_acc[p].tolist())
                retrained.append((row["config"], row["val_acc"], metrics["best_val_acc"]))
        records.record_retrained(store, name, seed, retrained)
