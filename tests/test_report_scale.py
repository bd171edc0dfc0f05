"""Output at scale: the 11 arms of examples/digits-weight-baselines.toml (on tiny data) and 12
arms at 4 sparsities. Every figure keeps every artist inside itself and every marker inside its
panel, no two arms' markers overlap; the terminal shows the verdicts as one table; a store's only
experiment is every command's default; a quick run says its accuracies are not comparable."""

import csv
import io
import shutil
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from typer.testing import CliRunner

from conftest import toml
from sparsearch.analysis.export import export_rows
from sparsearch.analysis.paired import Comparison, compare
from sparsearch.analysis.summary import ArmRow, Interval
from sparsearch.api import run
from sparsearch.cli import app
from sparsearch.config import config_from_dict, quick_note, tomllib
from sparsearch.mask.audits import AUDIT_COLUMNS
from sparsearch.report import figures
from sparsearch.report.data import collect
from sparsearch.store import Store

EXAMPLE = Path(__file__).parents[1] / "examples" / "digits-weight-baselines.toml"
NAME = "digits-weight-baselines"


def eleven_arms(path: Path, seeds: int = 5) -> Path:
    """A store holding the example's 11 arms at its 2 sparsities on tiny data: what matters is
    the geometry of their figures and tables, not the numbers."""
    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    raw["experiment"]["seeds"] = seeds
    raw["data"] = {"name": "synthetic", "samples": 300}
    raw["parent"] = {"hidden": [16, 8]}
    raw["train"]["epochs"] = 2
    raw["arms"]["lottery"]["prune_rate"] = 0.5
    run(config_from_dict(raw), store=path)
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return eleven_arms(tmp_path_factory.mktemp("eleven") / "s.db")


def _points(line) -> np.ndarray:
    """A line's data points in display coordinates (pixels), its transform's shift included."""
    xy = np.column_stack([np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)])
    return line.get_transform().transform(xy)


def assert_legible(fig) -> None:
    """Nothing drawn outside the figure; every marker (error-bar caps too) inside its panel; no
    two arms' markers closer than a marker's width in both directions."""
    FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    tight, page = fig.get_tightbbox(renderer), fig.bbox_inches
    assert page.x0 <= tight.x0 and tight.x1 <= page.x1 and page.y0 <= tight.y0 and tight.y1 <= page.y1, tight
    width = figures.MARKER * fig.dpi / 72
    for ax in fig.axes:
        box = ax.bbox
        for line in ax.get_lines():
            if line.get_marker() not in (None, "None", "", " "):
                xy = _points(line)
                assert ((xy[:, 0] >= box.x0) & (xy[:, 0] <= box.x1) & (xy[:, 1] >= box.y0) & (xy[:, 1] <= box.y1)).all(), \
                    (line.get_label(), xy, box)
        markers = [(bars.get_label(), point) for bars in ax.containers if bars.lines[0] is not None
                   for point in _points(bars.lines[0])]  # each arm's error bars: its markers
        for (a, p), (b, q) in combinations(markers, 2):
            assert a == b or np.abs(p - q).max() >= width - 1e-6, (a, b, p, q)
        assert all(not label.startswith("_") for label, _ in markers)


def test_every_figure_of_eleven_arms_is_legible(store):
    db = Store(store, write=False)
    try:
        data = collect(db, NAME)
        styles = figures.arm_styles(data.arms)
        made = {
            "accuracy_vs_sparsity": figures.accuracy_vs_sparsity(data.summary, styles, data.space),
            "learning_curves": figures.learning_curves(data.curves, styles, data.space),
            "paired_differences": figures.paired_differences(data.comparisons, styles, data.space),
            "accuracy_vs_cost": figures.accuracy_vs_cost(data.summary, styles),
        }
    finally:
        db.close()
    assert len(data.arms) == 11
    for name, fig in made.items():
        assert_legible(fig)
    legend = made["accuracy_vs_sparsity"].legends[0]
    assert len(legend.get_texts()) == 11  # every arm, dense as the reference line


ARMS12 = ["random", "magnitude", "lottery", "lottery_reinit", "lottery_random", "gmp", "snip", "grasp", "synflow",
          "shuffle", "oracle", "random_search"]
SPARSITIES = [0.5, 0.8, 0.9, 0.98]


def test_twelve_arms_at_four_sparsities_all_at_the_same_accuracy_stay_apart():
    """The worst case: every arm at every sparsity has the same accuracy and cost, and every
    paired difference is the same, so only the dodging keeps them apart."""
    same = Interval(5, 0.9, 0.01)
    summary = [ArmRow(0.0, "dense", same, 3.0, 0.0, 0.0, 10_000, 20_000)]
    summary += [ArmRow(s, arm, same, 3.0, 0.0, s, 10_000 * (1 - s), 20_000 * (1 - s)) for s in SPARSITIES for arm in ARMS12]
    comparisons = [Comparison("test_acc", s, arm, baseline, 5, 0.0, -0.01, 0.01, 0.5, 0.5, 0.5, 0.0)
                   for baseline in ("random", "dense") for arm in ARMS12 if arm != baseline for s in SPARSITIES]
    rows = [{"arm": arm, "sparsity": s, "seed": seed, "test_acc": 0.9, "flops": 20_000 * (1 - s),
             "latency_ms": 1.0 - s / 2, "latency_device": "cpu"} for s in SPARSITIES for arm in ARMS12 for seed in (0, 1)]
    curve = ([0.5, 0.8, 0.9], [0.45, 0.75, 0.85], [0.55, 0.85, 0.95])
    curves = {(0.0, "dense"): curve, **{(s, arm): curve for s in SPARSITIES for arm in ARMS12}}
    styles = figures.arm_styles(["dense", *ARMS12])
    for fig in (figures.accuracy_vs_sparsity(summary, styles, "weight"), figures.accuracy_vs_cost(summary, styles),
                figures.paired_differences(comparisons, styles, "weight"), figures.speed(rows, styles),
                figures.learning_curves(curves, styles, "weight")):
        assert_legible(fig)
        assert len(fig.legends[0].get_texts()) >= 12


def test_slots_and_log_dodge_by_hand():
    step = figures.STEP / 72  # inches between neighbouring arms
    assert figures.slot_offsets(1, 1.0) == [0.0]
    assert figures.slot_offsets(4, 1.0) == pytest.approx([-1.5 * step, -0.5 * step, 0.5 * step, 1.5 * step])
    assert figures.slot_offsets(4, 0.1) == pytest.approx([-0.3, -0.1, 0.1, 0.3])  # too short: 0.8 of it
    assert figures.slot_inches(4) == pytest.approx(4 * step / 0.8)
    # positions 10 and 100 (1 decade apart), and 101 joins 100 (within 0.02 decades)
    series = {"a": [10.0, 100.0], "b": [101.0]}
    span = np.log10(101) - 1 + 1  # decades, half a gap beyond either end
    assert figures.log_inches(series) == pytest.approx(span * figures.slot_inches(2))
    shifted, limits = figures.log_dodge(series, 3.0)
    half = 0.5 * step / (3.0 / span)  # decades
    assert shifted["a"] == pytest.approx([10 * 10 ** -half, 100 * 10 ** -half])
    assert shifted["b"] == pytest.approx([101 * 10 ** half])
    assert limits == pytest.approx((10 ** 0.5, 10 ** (np.log10(101) + 0.5)))


def _cells(output: str) -> list[list[str]]:
    """The rows of a rich table printed in `output`, as lists of stripped cells."""
    return [[cell.strip() for cell in line.strip("│ ").split("│")] for line in output.splitlines()
            if line.startswith("│")]


def test_show_prints_the_verdicts_as_one_table_or_with_verdicts_as_sentences(store):
    db = Store(store, write=False)
    comparisons = compare(export_rows(db, NAME))
    db.close()
    assert len(comparisons) == 114  # (9 arms vs random + 10 vs dense) x 2 sparsities x 3 metrics
    runner = CliRunner()
    shown = runner.invoke(app, ["show", "--store", str(store)])  # the store's only experiment
    assert shown.exit_code == 0, shown.output
    cells = _cells(shown.output)
    words = [row[-1] for row in cells if len(row) == 8 and row[2] in ("random", "dense")]
    assert len(words) == 114 and set(words) <= {"better", "worse", "different", "no evidence"}
    assert "no evidence that" not in shown.output and "is better than" not in shown.output
    first = next(row for row in cells if len(row) == 8 and row[2] in ("random", "dense"))
    c = comparisons[0]
    assert first == [f"{c.sparsity:g}", c.arm, c.baseline, "test accuracy", f"{100 * c.mean_diff:+.1f} pts",
                     f"[{100 * c.ci_low:+.1f}, {100 * c.ci_high:+.1f}]", f"{c.p_holm:.2g}", first[-1]]

    sentences = runner.invoke(app, ["show", NAME, "--store", str(store), "--verdicts"])
    assert sentences.exit_code == 0, sentences.output
    lines = sentences.output.splitlines()
    title = next(i for i, line in enumerate(lines) if line.startswith("Paired comparisons ("))
    assert lines[title + 1:title + 115] == [f"  {c.verdict}" for c in comparisons]


def test_every_command_takes_the_store_s_only_experiment(store, tmp_path):
    runner = CliRunner()
    audits = runner.invoke(app, ["export", "--store", str(store), "--audits"])
    assert audits.exit_code == 0, audits.output
    assert next(csv.reader(io.StringIO(audits.stdout))) == list(AUDIT_COLUMNS)
    front = runner.invoke(app, ["front", "--store", str(store)])
    assert front.exit_code == 2 and f"{NAME!r} is a mask experiment, which has no Pareto front" in front.output
    reported = runner.invoke(app, ["report", "--store", str(store), "--out", str(tmp_path / "r")])
    assert reported.exit_code == 0 and (tmp_path / "r" / "index.html").is_file()

    two = tmp_path / "two.db"
    shutil.copy(store, two)
    (tmp_path / "c.toml").write_text(toml())
    assert runner.invoke(app, ["run", str(tmp_path / "c.toml"), "--store", str(two), "--quiet"]).exit_code == 0
    for args, how in ((["show"], "pass one: sparsearch show EXPERIMENT"),
                      (["measure"], "pass one: sparsearch measure EXPERIMENT"),
                      (["front"], "pass one: sparsearch front EXPERIMENT"),
                      (["export", "--kernels"], "pass --kernels --experiment NAME"),
                      (["report", "--out", str(tmp_path / "r2")], "pass --experiment NAME")):
        refused = runner.invoke(app, [*args, "--store", str(two)])
        assert refused.exit_code == 2, (args, refused.output)
        assert refused.stderr.strip() == f"error: {two} holds 2 experiments ({NAME}, tiny); {how}"
    assert not (tmp_path / "r2").exists()


def test_a_quick_run_says_its_accuracies_are_not_comparable(tmp_path):
    (tmp_path / "c.toml").write_text(toml(train={"epochs": 30}))
    result = CliRunner().invoke(app, ["run", str(tmp_path / "c.toml"), "--store", str(tmp_path / "s.db"), "--quiet",
                                      "--quick", "--report", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    note = "quick run: 5 epochs, accuracies not comparable to full runs"
    assert note in result.stdout
    assert f"<li>{note}</li>" in (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    full = CliRunner().invoke(app, ["show", "tiny", "--store", str(tmp_path / "s.db")])
    assert full.exit_code == 2  # only the quick run is stored
    assert quick_note("tiny-quick", 5) == note and quick_note("tiny-quick", 30) is None and quick_note("tiny", 5) is None


def test_panels_per_sparsity_wrap_into_balanced_rows_no_wider_than_the_page():
    shapes = {}
    for count, width in ((1, 4.6), (3, 4.6), (4, 4.6), (4, 3.4), (5, 3.4), (7, 4.0)):
        fig, axes = figures.panel_grid(count, (width, 3.0))
        grid = axes[0].get_subplotspec().get_gridspec()
        shapes[count, width] = (grid.nrows, grid.ncols)
        assert len(axes) == count and all(ax.get_visible() for ax in axes)
        assert grid.ncols * width <= figures.PAGE and sum(ax.get_visible() for ax in fig.axes) == count
    assert shapes == {(1, 4.6): (1, 1), (3, 4.6): (1, 3), (4, 4.6): (2, 2), (4, 3.4): (1, 4), (5, 3.4): (2, 3),
                      (7, 4.0): (3, 3)}
