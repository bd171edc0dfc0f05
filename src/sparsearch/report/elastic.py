"""The report of an elastic-space (super-network search) experiment: hypervolume against real
evaluations per strategy, the Pareto fronts, the statistics and the retraining check."""

from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..config import Config, quick_note
from ..store import Store
from ..supernet import records
from ..supernet.analysis import SupernetSummary, front, summarize
from .environment import environment
from .figures import add_band, new_figure, add_legend, style_axes, series_styles
from .files import SavedFigure, save
from .page import environment_html, figures_html, table_html, document

CAPTIONS = {
    "hypervolume": "Hypervolume of the evaluated configurations against the number of real (inherited-weight) "
                   "evaluations, mean over seeds with 95% t-interval band. Objectives: validation error and costs "
                   "relative to the parent; reference point 1.0 for the error, 1.1 for each cost.",
    "fronts": "Every configuration each strategy evaluated for seed 0 (faint) and its Pareto front (line): "
              "inherited validation accuracy against the first cost objective, relative to the parent.",
}


def write_elastic_report(store: Store, experiment: str, config: Config, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    objectives = config.supernet.objectives
    summary = summarize(store, experiment, objectives, config.supernet.search_population)
    index = out_dir / "index.html"
    if summary is None:
        index.write_text(_page(experiment, config, store.config_of(experiment), None, []), encoding="utf-8")
        return index
    rows = records.evaluation_rows(store, experiment)
    parents = {(s["strategy"], s["seed"]): s["rounds"]["parent"] for s in records.searches(store, experiment)}
    styles = series_styles(list(summary.mean_curves))
    made = {"hypervolume": _hypervolume_figure(summary, styles),
            "fronts": _fronts_figure(rows, parents, objectives, styles)}
    figures = [save(fig, out_dir, name, CAPTIONS[name]) for name, fig in made.items()]
    index.write_text(_page(experiment, config, store.config_of(experiment), summary, figures), encoding="utf-8")
    return index


def _hypervolume_figure(summary: SupernetSummary, styles) -> Figure:
    fig, (ax,) = new_figure(1, panel=(6.5, 4.0))
    for strategy, curve in summary.mean_curves.items():
        mean = [c.mean for c in curve]
        half = [0.0 if np.isnan(c.half_width) else c.half_width for c in curve]
        ax.plot(summary.at, mean, color=styles[strategy].color, marker=styles[strategy].marker, label=strategy)
        add_band(ax, summary.at, [m - h for m, h in zip(mean, half)], [m + h for m, h in zip(mean, half)],
              styles[strategy].color, scale=1.0)
    style_axes(ax, "real evaluations", "hypervolume")
    add_legend(fig, [ax], {s: styles[s] for s in summary.mean_curves})
    return fig


def _fronts_figure(rows, parents, objectives, styles) -> Figure:
    fig, (ax,) = new_figure(1, panel=(6.5, 4.0))
    cost = objectives[0]
    for (strategy, seed), parent in parents.items():
        if seed != 0:
            continue
        mine = [r for r in rows if r["strategy"] == strategy and r["seed"] == 0]
        color = styles[strategy].color
        ax.scatter([r[cost] / parent[cost] for r in mine], [100 * r["val_acc"] for r in mine], s=8, color=color,
                   alpha=0.25, linewidths=0)
        best = front(mine, objectives, parent)
        ax.step([r[cost] / parent[cost] for r in best], [100 * r["val_acc"] for r in best], where="post",
                color=color, marker=styles[strategy].marker, markersize=4, label=strategy)
    style_axes(ax, f"{cost} relative to the parent", "inherited validation accuracy (%)")
    add_legend(fig, [ax], {s: styles[s] for s, _ in parents})
    return fig


def _page(experiment: str, config: Config, config_text: str, summary: SupernetSummary | None,
          figures: list[SavedFigure]) -> str:
    env = environment()
    meta = (f"super-network search &middot; {len(config.experiment.seed_list)} seed(s) &middot; {config.supernet.evaluations} "
            f"real evaluations per search &middot; generated {escape(env['date'])}")
    quick = quick_note(experiment, config.supernet.epochs)
    notes = f'<ul class="notes"><li>{escape(quick)}</li></ul>\n' if quick else ""
    body = f"""{notes}{_summary(summary)}
{figures_html(figures)}
<section id="config"><h2>Configuration</h2><pre>{escape(config_text)}</pre></section>
{environment_html(env)}"""
    return document(escape(experiment), meta, "", body)


def _summary(summary: SupernetSummary | None) -> str:
    if summary is None:
        return ('<section id="summary"><h2>Hypervolume</h2><p>No finished search yet: run the experiment again '
                'to continue it.</p></section>')
    hv_rows = []
    for strategy, curve in summary.mean_curves.items():
        reach = [n for n in summary.to_reach_random.get(strategy, []) if n is not None]
        hv_rows.append([strategy, f"{curve[-1].mean:.4f}", f"{curve[-1].half_width:.4f}",
                        f"{int(np.median(reach))} ({len(reach)} seeds)" if reach else "never"])
    verdicts = "".join(f"<li>{escape(c.verdict)}</li>" for c in summary.comparisons)
    taus = "".join(f"<li>{escape(s)}: {escape(', '.join(f'{r[0]:.2f}' for r in rounds))}</li>"
                   for s, rounds in summary.taus.items())
    r = summary.retrained
    retrained = (f"Kendall tau {r.kendall_tau:.2f}, Spearman {r.spearman:.2f} over {r.n} front configurations"
                 if r.n >= 2 else "not enough retrained configurations")
    return f"""<section id="summary"><h2>Hypervolume</h2>
{table_html(["strategy", "final hypervolume (mean)", "95% CI ±", "reaches random's final HV at (median n)"], hv_rows, {0})}
<h3>Final hypervolume against random</h3><ul class="verdicts">{verdicts}</ul>
<h3>LINAS predictor: Kendall tau per round (1 - accuracy, held-out new configurations)</h3><ul>{taus}</ul>
<h3>Inherited vs retrained-from-scratch validation accuracy</h3><p>{escape(retrained)}</p>
</section>"""
