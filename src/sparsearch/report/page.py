"""The self-contained HTML page: tables, verdicts, inline figures, config and environment.

Every piece of text that comes from the store or the user goes through `html.escape`."""

from __future__ import annotations

import math
from html import escape

from ..analysis.convergence import TARGET_FRACTION
from ..analysis.paired import ALPHA, METRICS, MIN_SEEDS, Comparison
from .data import ReportData
from .files import SavedFigure

CSS = """
:root { color-scheme: light; }
body { margin: 0; background: #fff; color: #1f2328; font: 15px/1.5 system-ui, -apple-system, "Segoe UI",
       Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 1.5rem 1.25rem 3rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 2.2rem 0 .6rem; padding-bottom: .2rem; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 1.02rem; margin: 1.2rem 0 .4rem; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .88em; }
.meta, .hint { color: #59636e; }
.hint { font-size: .88rem; }
nav a { margin-right: 1rem; }
a { color: #0b5cad; }
.notes { background: #fff8e5; border: 1px solid #eed9a0; border-radius: 6px; padding: .6rem 1rem .6rem 2rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: .86rem; font-variant-numeric: tabular-nums; }
th, td { padding: .3rem .55rem; border-bottom: 1px solid #e3e6ea; text-align: right; white-space: nowrap; }
th { background: #f3f5f7; font-weight: 600; white-space: normal; vertical-align: bottom; min-width: 3.5rem; }
th.text, td.text { text-align: left; }
tbody tr:nth-child(even) { background: #fafbfc; }
tr.significant td { font-weight: 600; }
ul.verdicts li { margin: .2rem 0; }
figure { margin: 1.5rem 0; }
figure svg { display: block; max-width: 100%; height: auto; }
figcaption { font-size: .9rem; color: #3d444d; margin-top: .4rem; max-width: 60rem; }
pre { background: #f6f8fa; border: 1px solid #e3e6ea; border-radius: 6px; padding: .8rem 1rem; overflow-x: auto; }
"""


def render(data: ReportData, figures: list[SavedFigure], environment: dict[str, str]) -> str:
    """The whole page as one string."""
    name = escape(data.experiment)
    datasets = ", ".join(escape(d) for d in dict.fromkeys(r["dataset"] for r in data.rows))
    sections = "\n".join(
        (
            _summary(data),
            _verdicts(data.comparisons),
            _comparisons(data.comparisons),
            _gains(data.comparisons),
            _probe_quality(data.audits),
            _speed(data.rows),
            figures_html(figures, "" if data.comparisons else "No paired-differences figure: there are no comparisons."),
            f'<section id="config"><h2>Configuration</h2><pre>{escape(data.config)}</pre></section>',
            environment_html(environment),
        )
    )
    notes = "".join(f"<li>{escape(note)}</li>" for note in data.notes)
    meta = (f"dataset {datasets} &middot; {data.seeds} seed(s) &middot; {len(data.rows)} trained networks &middot;\n"
            f"generated {escape(environment['date'])}")
    probes = '<a href="#probes">probes</a>' if data.audits else ""
    probes += '<a href="#speed">speed</a>' if any(r.get("latency_ms") is not None for r in data.rows) else ""
    gains = '<a href="#gains">gains</a>' if _gain_rows(data.comparisons) else ""
    nav = ('<nav><a href="#summary">summary</a><a href="#verdicts">verdicts</a><a href="#comparisons">comparisons</a>'
           f'{gains}{probes}<a href="#figures">figures</a><a href="#config">configuration</a>'
           '<a href="#environment">environment</a></nav>')
    notes_html = f'<ul class="notes">{notes}</ul>' if notes else ""
    return document(name, meta, nav, f"{notes_html}\n{sections}")


def document(name: str, meta: str, nav: str, body: str) -> str:
    """A complete page: `name` (escaped) in the title, `meta`, `nav` and `body` as HTML."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sparsearch report: {name}</title>
<style>{CSS}</style>
</head>
<body>
<main>
<header>
<h1>sparsearch report: {name}</h1>
<p class="meta">{meta}</p>
{nav}
</header>
{body}
</main>
</body>
</html>
"""


def _summary(data: ReportData) -> str:
    rows = [
        [
            f"{r.sparsity:g}",
            r.arm,
            str(r.test_acc.n),
            f"{100 * r.test_acc.mean:.2f}",
            _interval(100 * r.test_acc.mean, 100 * r.test_acc.half_width),
            f"{r.epochs_to_target:.1f}",
            data.dense_target[(r.sparsity, r.arm)],
            f"{100 * data.auc[(r.sparsity, r.arm)]:.2f}",
            f"{r.weight_sparsity:.3f}",
            f"{r.params:,.0f}",
            f"{r.flops:,.0f}",
        ]
        for r in data.summary
    ]
    headers = ["sparsity", "arm", "seeds", "test acc (%)", "95% CI (%)", "epochs to target",
               "epochs to dense target", "val AUC (%)", "weight sparsity", "params", "FLOPs"]
    return f"""<section id="summary"><h2>Summary</h2>
{table_html(headers, rows, text_columns={1})}
<p class="hint">Per requested sparsity (of the experiment's space) and arm, means over seeds. Test accuracy is taken at each network's best
validation epoch; the 95% CI is a Student-t interval of the mean over seeds. Epochs to target: the first epoch whose
validation accuracy reaches {TARGET_FRACTION:.0%} of that network's best. Epochs to dense target: the same for
{TARGET_FRACTION:.0%} of the best of the same seed's dense parent (mean over the seeds that reach it; how many never do).
Val AUC: validation accuracy averaged over
epochs (higher means good sooner). Weight sparsity: fraction of the parent's weights gone; FLOPs per example.</p>
</section>"""


def _verdicts(comparisons: list[Comparison]) -> str:
    if not comparisons:
        return (
            '<section id="verdicts"><h2>Verdicts</h2>'
            "<p>No comparisons: they need a random or dense arm and another sparse arm.</p></section>"
        )
    groups = []
    for metric, (label, *_) in METRICS.items():
        lines = "".join(f"<li>{escape(c.verdict)}</li>" for c in comparisons if c.metric == metric)
        if lines:
            groups.append(f"<h3>{escape(label)}</h3><ul class=\"verdicts\">{lines}</ul>")
    return f"""<section id="verdicts"><h2>Verdicts</h2>
<p class="hint">Paired by seed; Wilcoxon signed-rank test, Holm-adjusted across the sparsities of each arm, baseline
and metric; significance at {ALPHA:g}. Below {MIN_SEEDS} seeds no verdict is drawn.</p>
{"".join(groups)}
</section>"""


def _comparisons(comparisons: list[Comparison]) -> str:
    if not comparisons:
        return ""
    headers = ["sparsity", "arm", "baseline", "metric", "n", "mean diff", "95% CI", "Wilcoxon p", "t-test p",
               "Holm p", "d_z"]
    rows, classes = [], []
    for c in comparisons:
        label, scale, unit, _ = METRICS[c.metric]
        tested = c.n >= 2
        rows.append(
            [
                f"{c.sparsity:g}",
                c.arm,
                c.baseline,
                label,
                str(c.n),
                f"{c.censored} never" if c.censored else f"{scale * c.mean_diff:+.2f}{unit}",
                "n/a" if c.censored else f"[{scale * c.ci_low:+.2f}, {scale * c.ci_high:+.2f}]",
                *(_p(p) if tested else "n/a" for p in (c.p_wilcoxon, c.p_ttest, c.p_holm)),
                f"{c.effect_size:+.2f}" if tested and not math.isnan(c.effect_size) else "n/a",
            ]
        )
        classes.append("significant" if tested and c.p_holm < ALPHA else "")
    return f"""<section id="comparisons"><h2>Comparisons</h2>
<p class="hint">Arm minus baseline, paired by seed (against dense: the sparse network minus the dense parent of the
same seed). 95% CI: BCa bootstrap over seeds; "k never": k pairs have one side that never reaches the dense target,
so only the Wilcoxon test (never ranked worst) applies. d_z: mean difference over the SD of the differences. Rows in bold:
Holm p &lt; {ALPHA:g}. Tests need at least 2 seeds.</p>
{table_html(headers, rows, text_columns={1, 2, 3}, row_classes=classes)}
</section>"""


def _gain_rows(comparisons: list[Comparison]) -> list[Comparison]:
    """Test-accuracy comparisons against `random` with a recorded search cost."""
    return [c for c in comparisons if c.metric == "test_acc" and c.baseline == "random" and c.search_cost is not None]


def _gains(comparisons: list[Comparison]) -> str:
    """Every arm's gain over the mean random architecture with what it spent (Yang et al.
    2020), and, where the experiment has an oracle, the share of the oracle's gain and cost."""
    chosen = _gain_rows(comparisons)
    if not chosen:
        return ""
    oracle = {c.sparsity: c for c in chosen if c.arm == "oracle"}
    headers = ["sparsity", "arm", "n", "gain over random (pts)", "95% CI", "Holm p", "search cost (dense-parent epochs)",
               "share of oracle's gain", "share of oracle's cost"]
    rows = []
    for c in sorted(chosen, key=lambda c: (c.sparsity, c.search_cost, c.arm)):
        o = oracle.get(c.sparsity)
        share = "n/a" if o is None or o.mean_diff <= 0 else f"{c.mean_diff / o.mean_diff:.0%}"
        cost = "n/a" if o is None or not o.search_cost else f"{c.search_cost / o.search_cost:.1%}"
        rows.append([f"{c.sparsity:g}", c.arm, str(c.n), f"{100 * c.mean_diff:+.2f}",
                     f"[{100 * c.ci_low:+.2f}, {100 * c.ci_high:+.2f}]", _p(c.p_holm) if c.n >= 2 else "n/a",
                     f"{c.search_cost:.3g}", share, cost])
    return f"""<section id="gains"><h2>Gain over random architectures, with its cost</h2>
<p class="hint">Each arm's test accuracy minus that of a random node mask of the same seed and sparsity (the mean random
architecture, Yang et al. 2020), paired by seed, with the search cost it spent choosing (dense-parent epochs: trainings
weighted by their FLOPs and scoring passes; docs/method.md). Where the experiment has an oracle (every candidate trained
fully), the share of the oracle's gain an arm captures and the share of its cost it spends ("n/a" where the oracle does
not gain).</p>
{table_html(headers, rows, text_columns={1})}
</section>"""


def _speed(rows: list[dict]) -> str:
    """Accuracy, FLOPs and measured latency per sparsity and arm (empty when nothing was measured)."""
    from ..analysis.speed import speed_rows

    speeds = speed_rows(rows)
    if not speeds:
        return ""
    ratio = (lambda v: "" if v is None else f"{v:.2f}")
    table = [[f"{r.sparsity:g}", r.arm, str(r.measured), f"{100 * r.test_acc:.2f}", f"{r.flops:,.0f}", ratio(r.flops_ratio),
              f"{r.latency_ms:.4g}", ratio(r.speedup), f"{r.latency_b1_ms:.4g}", r.kernels] for r in speeds]
    headers = ["sparsity", "arm", "measured", "test acc (%)", "FLOPs", "dense FLOPs ×", "latency (ms)", "dense latency ×",
               "batch 1 (ms)", "fastest kernel"]
    devices = "; ".join(sorted({r["latency_device"] for r in rows if r.get("latency_device")}))
    return f"""<section id="speed"><h2>Measured speed</h2>
<p class="hint">Each trial's network timed alone on {escape(devices)} (median of the timed samples at the throughput batch,
and at batch 1), with the fastest kernel it can honestly run: compacted (node space); masked dense, CSR or 2:4 (weight
space). ×: the dense parent's FLOPs or latency over the arm's: where the latency ratio falls short of the FLOPs ratio,
fewer FLOPs did not mean as much less time.</p>
{table_html(headers, table, text_columns={1, 9})}
</section>"""


def _probe_quality(audits: list[dict]) -> str:
    """The audits' table (empty without audits)."""
    if not audits:
        return ""
    from ..analysis.probe_quality import probe_quality

    headers = ["sparsity", "arm", "probe", "seeds", "N", "Kendall τ val", "Spearman ρ val", "Kendall τ test",
               "Spearman ρ test", "regret val (pts)", "regret test (pts)"]
    rows = []
    for r in probe_quality(audits):
        rows.append([f"{r.sparsity:g}", r.arm, r.probe, str(r.regret_val.n), str(r.candidates),
                     *(_mean_half(i, 1, 2) for i in (r.kendall_val, r.spearman_val, r.kendall_test, r.spearman_test)),
                     *(_mean_half(i, 100, 1) for i in (r.regret_val, r.regret_test))])
    return f"""<section id="probes"><h2>Probe quality</h2>
<p class="hint">Each auditing arm also trained N of its K candidates fully (the same candidates for every probe and
the oracle). Kendall τ and Spearman ρ: rank correlation of the probe score with the trained accuracy, per seed, then
the mean ± 95% t-interval over seeds. Regret: how many points the probe's pick among the N is below the best of the
N. Test accuracy is reported, never used to choose.</p>
{table_html(headers, rows, text_columns={1, 2})}
</section>"""


def _mean_half(interval, scale: float, digits: int) -> str:
    if math.isnan(interval.mean):
        return "n/a"
    text = f"{scale * interval.mean:.{digits}f}"
    return text if math.isnan(interval.half_width) else f"{text} ± {scale * interval.half_width:.{digits}f}"


def figures_html(figures: list[SavedFigure], note: str = "") -> str:
    parts = []
    for number, fig in enumerate(figures, start=1):
        name = escape(fig.name)
        parts.append(
            f"""<figure id="fig-{name}">
{fig.markup}
<figcaption><strong>Figure {number}.</strong> {escape(fig.caption)} Files: <a href="{name}.png">PNG</a>,
<a href="{name}.svg">SVG</a>.</figcaption>
</figure>"""
        )
    missing = f"<p>{escape(note)}</p>" if note else ""
    return f'<section id="figures"><h2>Figures</h2>\n{missing}{"".join(parts)}\n</section>'


def environment_html(environment: dict[str, str]) -> str:
    rows = "".join(f'<tr><th class="text">{escape(k)}</th><td class="text">{escape(v)}</td></tr>'
                   for k, v in environment.items())
    return f'<section id="environment"><h2>Environment</h2><table>{rows}</table></section>'


def table_html(headers: list[str], rows: list[list[str]], text_columns: set[int], row_classes: list[str] = ()) -> str:
    def cell(tag: str, index: int, value: str) -> str:
        align = ' class="text"' if index in text_columns else ""
        return f"<{tag}{align}>{escape(value)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = []
    for row, cls in zip(rows, list(row_classes) or [""] * len(rows)):
        attribute = f' class="{cls}"' if cls else ""
        cells = "".join(cell("td", i, v) for i, v in enumerate(row))
        body.append(f"<tr{attribute}>{cells}</tr>")
    rows_html = "".join(body)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{rows_html}</tbody></table></div>'


def _interval(mean: float, half: float) -> str:
    return "n/a" if math.isnan(half) else f"[{mean - half:.2f}, {mean + half:.2f}]"


def _p(p: float) -> str:
    return "n/a" if math.isnan(p) else f"{p:.2g}"
