"""The HTML report: files written, self-contained, every user string escaped."""

import re
from html import escape
from pathlib import Path

import pytest

from sparsearch.config import config_from_dict
from sparsearch.errors import SparsearchError
from sparsearch.api import run
from sparsearch.study import Study
from sparsearch.store import Store
from sparsearch.analysis.export import export_rows

NAME = "<script>alert(1)</script> & co"
FIGURES = ("accuracy_vs_sparsity", "learning_curves", "paired_differences", "accuracy_vs_cost")


ARMS = ("dense", "random", "random_search")


def small_store(path: Path, name: str = NAME, seeds: int = 2, arms: tuple[str, ...] = ARMS) -> Path:
    """A store holding one tiny experiment, run by the library."""
    config = config_from_dict(
        {
            "experiment": {"name": name, "seeds": seeds},
            "data": {"name": "synthetic", "samples": 300},
            "parent": {"hidden": [16, 8]},
            "train": {"epochs": 3},
            "search": {"sparsities": [0.5, 0.75], "arms": list(arms)},
            "arms": {"random_search": {"candidates": 4}} if "random_search" in arms else {},
        }
    )
    run(config, store=path)
    return path


def report(store_path: Path, out_dir: Path, name: str = NAME) -> Path:
    return Study(store_path, name).report(out_dir)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(index.html path, its text, the verdict strings) of the tiny experiment's report."""
    from sparsearch.analysis.paired import compare

    root = tmp_path_factory.mktemp("report")
    store_path = small_store(root / "s.db")
    index = report(store_path, root / "out")
    store = Store(store_path, write=False)
    verdicts = [c.verdict for c in compare(export_rows(store, NAME))]
    store.close()
    return index, index.read_text(encoding="utf-8"), verdicts


def test_writes_index_and_every_figure_as_png_and_svg(built):
    index, _, _ = built
    assert index.name == "index.html" and index.is_file()
    for name in FIGURES:
        assert (index.parent / f"{name}.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        assert "<svg" in (index.parent / f"{name}.svg").read_text(encoding="utf-8")


def test_escapes_the_experiment_name(built):
    _, text, _ = built
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in text


def test_is_self_contained(built):
    _, text, _ = built
    for forbidden in ('src="http', 'href="http', "@import", "url(http", "<script", "<link", "<img"):
        assert forbidden not in text.lower(), forbidden
    assert "<?xml" not in text and "<!DOCTYPE svg" not in text
    assert text.count("<svg") == len(FIGURES) and text.count("<figure") == len(FIGURES)
    for name in FIGURES:
        assert f'href="{name}.png"' in text and f'href="{name}.svg"' in text


def test_ids_are_unique_across_the_inlined_figures(built):
    _, text, _ = built
    ids = re.findall(r'\bid="([^"]+)"', text)
    assert len(ids) == len(set(ids))
    referenced = set(re.findall(r'(?:href="#|url\(#)([^")]+)', text))
    assert referenced <= set(ids)


def test_shows_every_verdict(built):
    _, text, verdicts = built
    assert verdicts
    for verdict in verdicts:
        assert escape(verdict) in text


def test_shows_epochs_to_the_dense_target_beside_the_relative_measure(built):
    _, text, verdicts = built
    assert "<th>epochs to target</th><th>epochs to dense target</th>" in text
    assert any("(epochs to dense target)" in v for v in verdicts)


def test_shows_config_and_environment(built):
    _, text, _ = built
    assert "[search]" in text and "candidates = 4" in text
    for name in ("python", "torch", "numpy", "scipy", "matplotlib", "sparsearch", "platform", "CPU count", "date"):
        assert f">{name}</th>" in text


def test_without_baselines_or_seeds_says_what_is_skipped(tmp_path):
    store_path = small_store(tmp_path / "s.db", name="lonely", seeds=1, arms=("random_search",))
    text = report(store_path, tmp_path / "out", "lonely").read_text(encoding="utf-8")
    assert "No random arm" in text and "No dense arm" in text and "Only one seed" in text
    assert text.count("<figure") == len(FIGURES) - 1 and 'id="fig-paired_differences"' not in text
    assert "No paired-differences figure" in text
    assert not (tmp_path / "out" / "paired_differences.png").exists()


def test_unknown_experiment_names_the_known_ones(built, tmp_path):
    index, _, _ = built
    with pytest.raises(SparsearchError, match="experiments: "):
        report(index.parent.parent / "s.db", tmp_path / "out", "nope")
    assert not (tmp_path / "out").exists()


def test_a_degenerate_interval_a_rounding_error_past_its_mean_draws_as_a_point():
    """Issue 29: two seeds of `random` vs a `random` variant differ by the same amount in both
    seeds; the bootstrap bound then lay 1 ulp past the mean and matplotlib raised
    "'xerr' must not contain negative values"."""
    from sparsearch.analysis.paired import Comparison
    from sparsearch.report.figures import arm_styles, paired_differences

    mean = 0.1
    c = Comparison("test_acc", 0.5, "r2", "random", 2, mean, mean + 1e-15, mean - 1e-15, 0.5, 0.5, 0.5, 0.0)
    figure = paired_differences([c], arm_styles(["random", "r2"]), "node")
    segments = figure.axes[0].collections[0].get_segments()
    assert [tuple(segment[:, 0]) for segment in segments] == [(pytest.approx(10.0), pytest.approx(10.0))]
