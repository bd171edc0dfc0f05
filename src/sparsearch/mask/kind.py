"""The `mask` kind behind the `ExperimentKind` protocol (kinds.py): plan and run in study.py,
export rows with derived metrics, paired statistics, the mask report and terminal tables."""

from __future__ import annotations

from pathlib import Path

from ..analysis.export import EXPORT_COLUMNS, export_rows
from ..errors import SparsearchError, inert
from .anytime import ANYTIME_COLUMNS, anytime_rows
from .audits import AUDIT_COLUMNS, audit_rows


class MaskKind:
    """Arms x sparsities x seeds; one trained network per cell."""

    name = "mask"
    tables = ("trials", "audits", "anytime", "kernels")
    Settings = None  # [search] and each arm's [arms.NAME]

    def validate(self, config) -> None:
        from .study import validate  # the training stack loads when a run needs it, not when a store is read

        validate(config)

    def check_data(self, config, data) -> None:
        from .study import check_data

        check_data(config, data)

    def run(self, config, data, store, progress, executor):
        from .study import run_mask_study

        return run_mask_study(config, data, store, progress, executor)

    def export(self, store, experiment: str, table: str) -> tuple[list[str], list[dict]]:
        if table == "audits":
            return list(AUDIT_COLUMNS), audit_rows(store, experiment)
        if table == "anytime":
            return list(ANYTIME_COLUMNS), anytime_rows(store, experiment)
        if table == "kernels":
            from ..measure.records import KERNEL_COLUMNS, kernel_rows

            return list(KERNEL_COLUMNS), kernel_rows(export_rows(store, experiment), store)
        return list(EXPORT_COLUMNS), export_rows(store, experiment)

    def summary(self, store, experiment: str, config):
        """Per (sparsity, arm): seeds, mean test accuracy with its 95% half width, costs (a DataFrame)."""
        import pandas as pd

        from ..analysis.summary import SUMMARY_COLUMNS, arm_rows, flat_rows

        return pd.DataFrame(flat_rows(arm_rows(export_rows(store, experiment))), columns=list(SUMMARY_COLUMNS))

    def compare(self, store, experiment: str, config, metric: str | None) -> list:
        from ..analysis.paired import MASK_METRICS, compare

        metric = "test_acc" if metric is None else metric
        if metric not in MASK_METRICS:
            raise SparsearchError(f"compare: metric must be one of {', '.join(MASK_METRICS)}, got {metric!r}")
        return [c for c in compare(export_rows(store, experiment)) if c.metric == metric]

    def report(self, store, experiment: str, config, out_dir: Path) -> Path:
        from ..report.mask import write_mask_report

        return write_mask_report(store, experiment, config, out_dir)

    def show(self, store, experiment: str, config, console, verdicts: bool = False) -> None:
        from ..analysis.paired import compare
        from ..config import quick_note
        from ..display import probe_quality_table, speed_table, summary_table
        from ..display import verdicts as paired

        rows = export_rows(store, experiment)
        if not rows:
            console.print(f"{inert(experiment)}: no trained networks yet")
        else:
            console.print(summary_table(rows, f"{inert(experiment)}: {rows[0]['dataset']}",
                                        quick_note(experiment, config.train.epochs)))
            for item in paired(compare(rows), "Paired comparisons (Wilcoxon signed-rank, Holm-adjusted across "
                               "sparsities; 95% bootstrap CI)", verdicts):
                console.print(item, soft_wrap=True)
            speeds = speed_table(rows, f"{inert(experiment)}: measured speed")
            if speeds is not None:
                console.print(speeds)
        audits = audit_rows(store, experiment)
        if audits:
            console.print(probe_quality_table(audits, f"{inert(experiment)}: probe quality on N fully trained candidates"))

    def done_line(self, outcome, store: str, seconds: float) -> str:
        return (f"{len(outcome.rows)} networks in {store}: {outcome.trained} trained now, {outcome.reused} reused "
                f"({seconds:.1f} s)")

    def settings_in_full(self, config):
        from ..arms import with_arm_settings
        from ..nets import with_kind_settings

        return with_kind_settings(with_arm_settings(config))


MASK = MaskKind()
