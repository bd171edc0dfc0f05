"""The largest sub-network of a trained super-network against the same network trained alone.

    python benchmarks/supernet_quality.py examples/digits-elastic.toml --quick
    python benchmarks/supernet_quality.py examples/mnist1d-elastic.toml --seeds 2
    python benchmarks/supernet_quality.py examples/mnist1d-cnn-supernet.toml --seeds 2   # any parent kind

BigNAS (Yu et al. 2020) and Once-for-All (Cai et al. 2020) promise that the largest
sub-network of a super-network trained with the sandwich rule matches the network trained
alone. For each seed this trains the super-network of the config (`[supernet]`, the `[train]`
recipe for `supernet.epochs`) and the parent alone with the same recipe, epochs,
initialisation and data order, and prints per seed both final validation accuracies, the
smallest sub-network's, and the ratio largest / alone, then their means (the mean ratio is the
mean of the seeds' ratios; issue 25 asks for at least 95%)."""

from __future__ import annotations

import argparse
import statistics

import torch

from sparsearch.config import load_config, quick
from sparsearch.data import load_dataset
from sparsearch.engine.trainer import Trainer
from sparsearch.nets import build_parent
from sparsearch.nets.base import stacked
from sparsearch.supernet.run import elastic_space
from sparsearch.supernet.train import train_supernet


def compare(config, data, seed: int) -> dict[str, float]:
    """Final validation accuracy of the largest and smallest sub-network (BatchNorm recalibrated
    for each, as every evaluation of a sub-network is) and of the parent alone."""
    parent = build_parent(config.parent, data.shape, data.n_classes)
    _, curves = train_supernet(parent, parent.init(seed), elastic_space(config, parent), data, config, seed)
    recipe = config.train.model_copy(update={"epochs": config.supernet.epochs})
    alone = Trainer(parent, data, recipe).train(stacked([parent.init(seed)]), [seed])
    return {"largest": curves["largest_val_acc"][-1], "smallest": curves["smallest_val_acc"][-1],
            "alone": float(alone.val_acc[0, -1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--quick", action="store_true", help="the config's smoke-run version (5 epochs)")
    parser.add_argument("--seeds", type=int, default=None, help="how many seeds (default: the config's)")
    args = parser.parse_args()
    config = load_config(args.config)
    if args.quick:
        config = quick(config)
    torch.set_num_threads(1)
    data = load_dataset(config.data)
    seeds = range(args.seeds) if args.seeds is not None else config.experiment.seed_list
    shape = f"hidden {config.parent.hidden}" if config.parent.kind == "mlp" else f"parent {config.parent.kind}"
    print(f"{data.name}, {shape}, {config.supernet.epochs} epochs, "
          f"sandwich {config.supernet.sandwich}, distill {config.supernet.distill}, "
          f"largest_weight {config.supernet.largest_weight}")
    print("seed | largest sub-network | smallest sub-network | parent alone (val acc %) | largest / alone")
    results = []
    for seed in seeds:
        r = compare(config, data, seed)
        r["ratio"] = r["largest"] / r["alone"]
        results.append(r)
        print(f"{seed} | {100 * r['largest']:.1f} | {100 * r['smallest']:.1f} | {100 * r['alone']:.1f} | "
              f"{100 * r['ratio']:.1f}%", flush=True)
    mean = {k: 100 * statistics.fmean(r[k] for r in results) for k in results[0]}
    print(f"mean | {mean['largest']:.1f} | {mean['smallest']:.1f} | {mean['alone']:.1f} | {mean['ratio']:.1f}%; "
          f"largest - alone {mean['largest'] - mean['alone']:+.1f} points")

if __name__ == "__main__":
    main()
