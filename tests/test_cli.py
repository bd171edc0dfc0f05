"""End-to-end runs of the real `sparsearch` command in a subprocess."""

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sparsearch.analysis.export import EXPORT_COLUMNS

SMALL = """
[experiment]
name = "tiny"
seeds = 2
[data]
name = "synthetic"
samples = 300
[parent]
hidden = [16, 8]
[train]
epochs = 3
batch_size = 32
[search]
sparsities = [0.5]
[arms.random_search]
candidates = 4
"""

REQUIRED = ["experiment", "arm", "dataset", "node_sparsity", "weight_sparsity", "seed", "params", "flops", "test_acc",
            "best_val_acc", "best_epoch", "epochs_to_target", "train_seconds", "status"]


def sparsearch(*args, cwd=None, stdin=None):
    script = Path(sys.executable).with_name("sparsearch")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "sparsearch"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    return subprocess.run([*command, *args], capture_output=True, text=True, cwd=cwd, env=env, input=stdin)


@pytest.fixture
def small_config(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(SMALL)
    return path


@pytest.mark.slow
def test_run_prints_summary_and_export_has_one_row_per_network(tmp_path, small_config):
    store = tmp_path / "s.db"
    result = sparsearch("run", str(small_config), "--store", str(store), "--quiet")
    assert result.returncode == 0, result.stderr
    for text in ("dense", "random_search", "Paired comparisons", "too few for the test to have power", "6 networks in"):
        assert text in result.stdout

    exported = sparsearch("export", "--store", str(store), "--format", "csv")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert list(rows[0]) == list(EXPORT_COLUMNS) and set(REQUIRED) <= set(rows[0])
    assert sorted((r["arm"], r["sparsity"], r["seed"]) for r in rows) == [
        ("dense", "0.0", "0"), ("dense", "0.0", "1"), ("random", "0.5", "0"), ("random", "0.5", "1"),
        ("random_search", "0.5", "0"), ("random_search", "0.5", "1"),
    ]
    for r in rows:
        assert r["status"] == "ok" and 0 <= float(r["test_acc"]) <= 1 and int(r["params"]) > 0
    dense = next(r for r in rows if r["arm"] == "dense")
    assert (dense["node_sparsity"], dense["weight_sparsity"], dense["params"]) == ("0.0", "0.0", str(16 * 16 + 16 + 16 * 8 + 8 + 8 * 4 + 4))

    out = tmp_path / "rows.json"
    assert sparsearch("export", "--store", str(store), "--format", "json", "--out", str(out)).returncode == 0
    assert [row["trial_key"] for row in json.loads(out.read_text())] == [r["trial_key"] for r in rows]


@pytest.mark.slow
def test_rerun_reuses_stored_trials_and_gives_identical_rows(tmp_path, small_config):
    store = tmp_path / "s.db"
    assert sparsearch("run", str(small_config), "--store", str(store), "--quiet").returncode == 0
    first = sparsearch("export", "--store", str(store), "--format", "json").stdout
    assert sparsearch("run", str(small_config), "--store", str(store), "--quiet").returncode == 0
    assert sparsearch("export", "--store", str(store), "--format", "json").stdout == first


@pytest.mark.parametrize(
    "text, message",
    [
        (SMALL.replace("epochs = 3", "epochz = 3"), "train.epochz: unknown key"),
        (SMALL.replace("epochs = 3", 'epochs = "3x"'), "train.epochs: Input should be a valid integer"),
        (SMALL.replace("sparsities = [0.5]", "sparsities = [1.5]"), "search.sparsities: every sparsity must be in [0, 1)"),
        (SMALL.replace("sparsities = [0.5]", 'sparsities = [0.5]\narms = ["lucky"]'), "search.arms: unknown arm 'lucky'"),
        (SMALL.replace('name = "synthetic"', 'name = "imagenet"'), "data.name: unknown dataset 'imagenet'; known:"),
        (SMALL.replace("candidates = 4", "candidates = 0"), "arms.random_search.candidates: Input should be greater"),
        (SMALL.replace("[search]", "[search]\nprune_rate = 0.3"), "search: 'prune_rate' moved to [arms.lottery] prune_rate"),
        (SMALL.replace("sparsities = [0.5]", "sparsities = [0.95]"), "removes all 8 units of hidden layer 2"),
        (SMALL.replace('name = "synthetic"', 'name = "mnist"\nroot = "/nonexistent"'), "data.root"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_store_untouched(tmp_path, text, message):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    store = tmp_path / "s.db"
    store.write_bytes(b"")
    result = sparsearch("run", str(config), "--store", str(store))
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert store.read_bytes() == b""


def test_missing_config_file_and_bad_store(tmp_path):
    result = sparsearch("run", str(tmp_path / "absent.toml"))
    assert result.returncode == 2 and "config file not found" in result.stderr
    notes = tmp_path / "notes.txt"
    notes.write_text("my precious notes\n" * 20)
    result = sparsearch("export", "--store", str(notes))
    assert result.returncode == 2 and "is not a sparsearch store" in result.stderr
    assert notes.read_text() == "my precious notes\n" * 20


def test_config_default_prints_loadable_toml(tmp_path):
    result = sparsearch("config", "--default")
    assert result.returncode == 0 and "[search]" in result.stdout
    path = tmp_path / "default.toml"
    path.write_text(result.stdout)
    assert sparsearch("config", "--check", str(path)).stdout == result.stdout


@pytest.mark.slow
def test_built_in_default_shows_the_papers_pattern(tmp_path):
    """The default digits study: accuracy holds at moderate node sparsity, falls at high."""
    store = tmp_path / "default.db"
    result = sparsearch("run", "--store", str(store), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "training" in result.stderr  # the progress bar
    rows = json.loads(sparsearch("export", "--store", str(store), "--format", "json").stdout)
    assert len(rows) == 10 + 2 * 4 * 10

    def mean_acc(arm, sparsity):
        accs = [r["test_acc"] for r in rows if r["arm"] == arm and r["sparsity"] == sparsity]
        return sum(accs) / len(accs)

    dense = mean_acc("dense", 0.0)
    assert dense > 0.95
    assert mean_acc("random", 0.5) > dense - 0.02
    assert mean_acc("random", 0.95) < mean_acc("random", 0.5) - 0.01


@pytest.mark.slow
def test_bench_command_prints_rows_and_rejects_bad_lists():
    args = ["bench", "--populations", "1,2", "--sparsities", "0.9", "--no-extra", "--no-conv", "--epochs", "1", "--repeats", "1",
            "--quiet"]
    result = sparsearch(*args, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["matmul_peak_gflops"]["fp32"] > 0 and report["matmul_peak_gflops"]["bf16"] > 0
    assert report["bf16_path"] in ("AMX", "AVX512-BF16", "none")
    assert [(r["population"], r["method"]) for r in report["rows"]][:5] == [
        (1, "plain"), (1, "torch.func"), (1, "engine-masked"), (1, "engine"), (1, "engine-bf16")]
    assert report["steps"] == []  # no dense workload asked for
    table = sparsearch(*args, "--populations", "2", "--sparsities", "0")
    assert table.returncode == 0 and "digits 300-100 P=2 s=0" in table.stdout and "% of mm peak" in table.stdout
    assert "64-300-100-10 P=2 B=64" in table.stdout and "bf16 path:" in table.stdout
    bad = sparsearch("bench", "--populations", "1,x")
    assert bad.returncode == 2 and "--populations: expected comma-separated numbers" in bad.stderr


@pytest.mark.slow
def test_ls_show_and_rm(tmp_path, small_config):
    store = str(tmp_path / "s.db")
    assert sparsearch("run", str(small_config), "--store", store, "--quiet").returncode == 0
    listing = sparsearch("ls", "--store", store)
    assert listing.returncode == 0 and "tiny" in listing.stdout and "complete" in listing.stdout
    shown = sparsearch("show", "tiny", "--store", store)
    assert shown.returncode == 0
    assert 'name = "synthetic"' in shown.stdout and "comparisons have only 2 seeds, too few for the test" in shown.stdout

    declined = sparsearch("rm", "tiny", "--store", store, stdin="n\n")
    assert declined.returncode == 1 and "tiny" in sparsearch("ls", "--store", store).stdout
    removed = sparsearch("rm", "tiny", "--store", store, "--yes")
    assert removed.returncode == 0 and "deleted experiment 'tiny' and 6 trials" in removed.stdout
    assert "no experiments" in sparsearch("ls", "--store", store).stdout
    for args in (("show", "tiny"), ("export", "--experiment", "tiny"), ("rm", "tiny", "--yes")):
        missing = sparsearch(*args, "--store", store)
        assert missing.returncode == 2 and "no experiment 'tiny'" in missing.stderr


@pytest.mark.slow
def test_report_from_run_and_from_the_store(tmp_path, small_config):
    store = str(tmp_path / "s.db")
    result = sparsearch("run", str(small_config), "--store", store, "--quiet", "--report", str(tmp_path / "r1"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "r1" / "index.html").is_file()
    made = sparsearch("report", "--store", store, "--out", str(tmp_path / "r2"))
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "r2" / "index.html").read_text().count("<figure") >= 4

    other = small_config.read_text().replace('name = "tiny"', 'name = "other"')
    small_config.write_text(other)
    assert sparsearch("run", str(small_config), "--store", store, "--quiet").returncode == 0
    ambiguous = sparsearch("report", "--store", store, "--out", str(tmp_path / "r3"))
    assert ambiguous.returncode == 2 and "holds 2 experiments (tiny, other); pass --experiment NAME" in ambiguous.stderr
    assert not (tmp_path / "r3").exists()
