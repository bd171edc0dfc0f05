"""Notebook use: progress shown by default only where someone watches, `summary()` as a DataFrame
equal to the analysis rows (and to a hand computation), short reprs of a study and its outcome."""

import io
import math
import statistics

import pytest
from rich.console import Console
from scipy import stats

import sparsearch
from sparsearch import display
from sparsearch.analysis.export import export_rows
from sparsearch.analysis.summary import arm_rows
from sparsearch.display import RichProgress, shown_progress
from sparsearch.progress import Progress
from sparsearch.store import Store
from sparsearch.supernet.analysis import summarize

from conftest import BASE


class Terminal(io.StringIO):
    """What a terminal looks like to rich: a file that is a tty."""

    def isatty(self):
        return True


def terminal() -> Console:
    return Console(file=Terminal(), force_terminal=True, force_interactive=True, width=100)


def test_progress_is_silent_by_default_where_nobody_watches(tmp_path, capfd):
    assert not display.watched(display.watched_console())  # pytest captures stderr: no terminal
    sparsearch.run(BASE, store=tmp_path / "s.db")
    assert capfd.readouterr() == ("", "")
    with shown_progress(None) as shown:
        assert type(shown) is Progress
    assert not display.watched(Console(file=io.StringIO(), force_terminal=True))  # FORCE_COLOR in CI: no tty


def test_progress_bars_by_default_in_a_terminal_and_never_when_silenced(tmp_path, monkeypatch):
    screen = terminal()
    monkeypatch.setattr(display, "watched_console", lambda: screen)
    sparsearch.run(BASE, store=tmp_path / "a.db")
    drawn = screen.file.getvalue()
    assert "planning random" in drawn and "training" in drawn and "8/8" in drawn  # 4 networks x 2 epochs
    screen.file.truncate(0)
    sparsearch.run(BASE, store=tmp_path / "b.db", progress=False)
    assert screen.file.getvalue() == ""


def test_progress_bars_in_a_jupyter_notebook_and_when_asked():
    notebook = Console(file=io.StringIO(), force_jupyter=True)
    assert display.watched(notebook)
    piped = Console(file=io.StringIO())
    assert not display.watched(piped)
    assert isinstance(shown_progress(True), RichProgress)  # True: bars wherever
    mine = Progress()
    with shown_progress(mine) as shown:
        assert shown is mine


def test_run_refuses_a_progress_of_the_wrong_kind(tmp_path):
    with pytest.raises(sparsearch.SparsearchError, match=r"^progress must be None, True, False or have .* got 1 \(int\)$"):
        sparsearch.run(BASE, store=tmp_path / "s.db", progress=1)


def test_summary_is_a_dataframe_of_the_analysis_rows(tmp_path):
    study = sparsearch.run({**BASE, "experiment": {"name": "tiny", "seeds": 3},
                            "search": {"sparsities": [0.5, 0.75], "arms": ["dense", "random"]}},
                           store=tmp_path / "s.db")
    summary = study.summary()
    with Store.open(tmp_path / "s.db") as db:
        rows = arm_rows(export_rows(db, "tiny"))
    assert list(summary.columns) == ["sparsity", "arm", "seeds", "test_acc", "test_acc_ci", "epochs_to_target",
                                     "node_sparsity", "weight_sparsity", "params", "flops"]
    assert len(summary) == len(rows) == 3  # dense (at 0), random at 0.5 and 0.75
    for frame_row, row in zip(summary.to_dict("records"), rows):
        assert frame_row == {"sparsity": row.sparsity, "arm": row.arm, "seeds": row.test_acc.n,
                             "test_acc": row.test_acc.mean, "test_acc_ci": row.test_acc.half_width,
                             "epochs_to_target": row.epochs_to_target, "node_sparsity": row.node_sparsity,
                             "weight_sparsity": row.weight_sparsity, "params": row.params, "flops": row.flops}
    trials = study.trials()
    for frame_row in summary.to_dict("records"):  # by hand: mean and Student-t half width over the seeds
        accs = trials[(trials.arm == frame_row["arm"]) & (trials.sparsity == frame_row["sparsity"])].test_acc
        half = stats.t.ppf(0.975, len(accs) - 1) * accs.std(ddof=1) / math.sqrt(len(accs))
        assert frame_row["seeds"] == 3
        assert frame_row["test_acc"] == pytest.approx(accs.mean(), rel=1e-12)
        assert frame_row["test_acc_ci"] == pytest.approx(half, rel=1e-9)


SUPERNET = {
    "experiment": {"name": "elastic", "seeds": 2, "kind": "supernet"},
    "data": {"name": "synthetic", "samples": 200},
    "parent": {"hidden": [8, 8]},
    "train": {"epochs": 1, "batch_size": 32},
    "supernet": {"epochs": 1, "widths": [0.25, 0.5, 0.75, 1.0], "strategies": ["random", "linas"], "evaluations": 12,
                 "search_population": 4, "retrain": 0},
}


def test_a_supernet_summary_is_a_dataframe_per_strategy(tmp_path):
    study = sparsearch.run(SUPERNET, store=tmp_path / "s.db")
    assert repr(study.outcome) == "SupernetRun(searched=4, reused=0)"
    summary = study.summary()
    with Store.open(tmp_path / "s.db") as db:
        found = summarize(db, "elastic", ["params"], 4)
    assert list(summary.strategy) == ["linas", "random"] == list(found.mean_curves)
    for row in summary.to_dict("records"):
        final = found.mean_curves[row["strategy"]][-1]
        reach = [n for n in found.to_reach_random[row["strategy"]] if n is not None]
        assert (row["seeds"], row["evaluations"], row["hypervolume"]) == (2, 12, final.mean)
        assert row["hypervolume_ci"] == pytest.approx(final.half_width, nan_ok=True)
        assert row["seeds_reaching_random"] == len(reach)
        assert row["reaches_random_at"] == pytest.approx(statistics.median(reach) if reach else math.nan, nan_ok=True)
    taus = summary.set_index("strategy").predictor_tau
    assert taus["linas"] == found.taus["linas"][-1][0] and math.isnan(taus["random"])  # LINAS's last round, 1 - acc


def test_an_empty_supernet_experiment_summarizes_to_an_empty_frame(tmp_path):
    with Store(tmp_path / "s.db", write=True) as db:
        db.register_experiment("elastic", sparsearch.config.to_toml(sparsearch.config.config_from_dict(SUPERNET)))
    summary = sparsearch.Study(tmp_path / "s.db", "elastic").summary()
    assert summary.empty and summary.columns[0] == "strategy"


def test_a_study_and_its_outcome_print_in_one_short_line(tmp_path):
    study = sparsearch.run(BASE, store=tmp_path / "s.db")
    assert repr(study.outcome) == "MaskRun(networks=4, trained=4, reused=0, failed=0, pretrained=0)"
    assert repr(study) == f"Study('tiny', kind='mask', store='{tmp_path / 's.db'}')"
    with Store.open(tmp_path / "s.db") as db:
        assert repr(sparsearch.Study(db, "tiny")) == f"Study('tiny', kind='mask', store='{tmp_path / 's.db'}')"
    assert repr(sparsearch.Study(tmp_path / "gone.db", "tiny")) == f"Study('tiny', store='{tmp_path / 'gone.db'}')"
