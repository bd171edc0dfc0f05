"""The `supernet` kind behind the `ExperimentKind` protocol (kinds.py): train a weight-sharing
super-network, search its elastic space per strategy and seed (run.py), and read it back as
evaluations, hypervolume comparisons, Pareto fronts, the elastic report and terminal tables."""

from __future__ import annotations

from pathlib import Path

from ..config import LogConfig
from ..errors import SparsearchError, inert
from . import records
from .checks import check_space


class SupernetKind:
    """Super-network sub-network search: strategies compared by final hypervolume, paired by seed."""

    name = "supernet"
    tables = ("evaluations",)
    Settings = None  # the [supernet] table, older than [kinds.NAME]

    def validate(self, config) -> None:
        """Any parent kind (its node groups become elastic), `depths` only for kinds made of
        blocks (`nets.DEPTH_KINDS`: resnet20, vit), neither label smoothing nor augmentation
        (the sandwich loss has neither), no `[log]` (experiment tracking covers mask
        studies), and for an MLP, whose node groups the config fixes, widths that keep a unit
        of every layer and no more evaluations per search than the elastic space has distinct
        configurations (each is evaluated at most once; other kinds are checked at the data's
        shape, `check_data`)."""
        from ..nets import DEPTH_KINDS, check_settings  # the training stack loads when a run needs it

        kind = config.parent.kind
        search = config.supernet
        if search.depths is not None and kind not in DEPTH_KINDS:
            raise SparsearchError(f"supernet.depths: elastic depth is for {' or '.join(sorted(DEPTH_KINDS))} parents, "
                                  f"got parent.kind {kind!r}; remove supernet.depths")
        if config.train.label_smoothing:
            raise SparsearchError(f"train.label_smoothing: the supernet kind trains without label smoothing, got "
                                  f"{config.train.label_smoothing}; set it to 0")
        if config.data.augment:
            raise SparsearchError(f"data.augment: the supernet kind trains without augmentation, got "
                                  f"{config.data.augment}; set augment = []")
        from ..spaces.elastic import ElasticSpace

        check_settings(config, [])
        if kind == "mlp":
            check_space(config, ElasticSpace(tuple(config.parent.hidden), tuple(search.widths)), None)
        if config.log != LogConfig():
            raise SparsearchError("log: [log] logs the trials of mask studies; a supernet search logs nothing, so "
                                  "remove the [log] table")

    def check_data(self, config, data) -> None:
        from .run import check_data

        check_data(config, data)

    def run(self, config, data, store, progress, executor):
        from .run import run_supernet

        return run_supernet(config, data, store, progress, executor)

    def export(self, store, experiment: str, table: str) -> tuple[list[str], list[dict]]:
        import tomllib

        depths = tomllib.loads(store.config_of(experiment)).get("supernet", {}).get("depths")
        rows = records.with_blocks(records.evaluation_rows(store, experiment), depths)
        return (list(rows[0]) if rows else []), rows

    def summary(self, store, experiment: str, config):
        """Per strategy: final hypervolume, evaluations to reach random's, predictor tau (a DataFrame;
        empty while no search has finished)."""
        import pandas as pd

        from .analysis import STRATEGY_COLUMNS, strategy_rows

        found = self.found(store, experiment, config)
        return pd.DataFrame([] if found is None else strategy_rows(found), columns=list(STRATEGY_COLUMNS))

    def found(self, store, experiment: str, config):
        """The typed `SupernetSummary` (supernet/analysis.py): curves, comparisons, rank agreement;
        None while no search has finished."""
        from .analysis import summarize

        return summarize(store, experiment, config.supernet.objectives, config.supernet.search_population)

    def compare(self, store, experiment: str, config, metric: str | None) -> list:
        if metric is not None:
            raise SparsearchError(f"compare: a super-network search compares final hypervolume only; drop "
                                  f"metric {metric!r}")
        summary = self.found(store, experiment, config)
        return [] if summary is None else summary.comparisons

    def report(self, store, experiment: str, config, out_dir: Path) -> Path:
        from ..report.elastic import write_elastic_report

        return write_elastic_report(store, experiment, config, out_dir)

    def show(self, store, experiment: str, config, console, verdicts: bool = False) -> None:
        from ..config import quick_note
        from ..display import elastic_tables
        from ..display import verdicts as paired

        summary = self.found(store, experiment, config)
        if summary is None:
            console.print(f"{inert(experiment)}: no finished search yet")
            return
        for table in elastic_tables(summary, inert(experiment), quick_note(experiment, config.supernet.epochs)):
            console.print(table)
        for item in paired(summary.comparisons, "Final hypervolume vs random, paired by seed (Wilcoxon, Holm across "
                           "strategies; 95% bootstrap CI)", verdicts):
            console.print(item, soft_wrap=True)
        if "latency" in config.supernet.objectives and config.parent.kind == "mlp":  # the table's error
            self._show_latency_error(store, config, console)
        r = summary.retrained
        if r.n >= 2:
            console.print(
                f"Inherited vs retrained-from-scratch validation accuracy of {r.n} front configurations: "
                f"Kendall tau {r.kendall_tau:.2f}, Spearman {r.spearman:.2f}"
                + (f", mean per-seed tau {r.mean_seed_kendall_tau:.2f}" if r.mean_seed_kendall_tau is not None else ""),
            )

    def _show_latency_error(self, store, config, console) -> None:
        """The latency table's error against whole-network timings of the largest, a middle and the
        smallest sub-network (the table must already hold their layers)."""
        import numpy as np

        from ..spaces.elastic import ElasticSpace
        from .latency import LatencyTable, table_error

        space = ElasticSpace(tuple(config.parent.hidden), tuple(config.supernet.widths))
        search = next(iter(records.searches(store, config.experiment.name)), None)
        if search is None:
            return
        n_features, *_, n_classes = search["rounds"]["parent"]["widths"]
        middle = np.full(len(space.hidden), len(space.fractions) // 2)
        networks = [(n_features, *space.widths(c), n_classes) for c in (space.largest(), middle, space.smallest())]
        error = table_error(LatencyTable(records.LatencyRows(store, config.engine.thread_choice.count)), networks,
                            config.supernet.latency_batch)
        console.print(
            f"Latency table vs whole-network timings at batch {config.supernet.latency_batch}: mean |error| "
            f"{100 * error['mean_abs_rel_error']:.1f}%, max {100 * error['max_abs_rel_error']:.1f}% over "
            f"{len(networks)} sub-networks"
        )

    def front_tables(self, store, experiment: str, config, seed: int) -> list:
        """The Pareto front (validation error against costs) of each strategy for one seed, as tables."""
        from rich.table import Table

        from .analysis import front as pareto_front

        rows = records.with_blocks([r for r in records.evaluation_rows(store, experiment) if r["seed"] == seed],
                                   config.supernet.depths)
        parents = {s["strategy"]: s["rounds"]["parent"] for s in records.searches(store, experiment) if s["seed"] == seed}
        if not rows:
            seeds = config.experiment.seeds
            which = f"below {seeds}" if isinstance(seeds, int) else f"one of {list(config.experiment.seed_list)}"
            raise SparsearchError(f"no evaluations for seed {seed} of {experiment!r}; pass --seed {which}")
        tables = []
        for strategy, parent in parents.items():
            table = Table(title=f"{inert(experiment)}, seed {seed}: Pareto front of {strategy}", title_justify="left")
            depth = ("blocks",) if config.supernet.depths else ()
            for header in ("hidden widths", *depth, "val acc %", "params", "FLOPs", "latency µs", "evaluation #"):
                table.add_column(header, justify="left" if header in ("hidden widths", "blocks") else "right")
            for r in pareto_front([r for r in rows if r["strategy"] == strategy], config.supernet.objectives, parent):
                latency = "" if r["latency"] is None else f"{1e6 * r['latency']:.1f}"
                blocks = ("-".join(map(str, r["blocks"])),) if depth else ()
                table.add_row("-".join(map(str, r["widths"])), *blocks, f"{100 * r['val_acc']:.2f}", f"{r['params']:,}",
                              f"{r['flops']:,}", latency, str(r["idx"] + 1))
            tables.append(table)
        return tables

    def done_line(self, outcome, store: str, seconds: float) -> str:
        return f"{outcome.searched} searches run now, {outcome.reused} reused, in {store} ({seconds:.1f} s)"

    def settings_in_full(self, config):
        return config


SUPERNET = SupernetKind()
