"""The `sparsearch` command: a thin face over the library (sparsearch.run, Study, Store)."""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import sys
import time
import warnings
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperCommand, TyperGroup

from . import __version__
from .config import Config, annotated_toml, load_config, quick, with_engine
from .errors import SparsearchError, inert, one_line

HELP = ("Search, train and benchmark sparse sub-networks of over-parameterized networks.\n\n"
        "Start with `sparsearch run` (the built-in default study) or `sparsearch config --default`; the README lists "
        "every command, and docs/ explains the method, the store and the API.")

# User text (experiment names, paths, messages) is data, never markup: both consoles print it verbatim.
out = Console(width=None if sys.stdout.isatty() else 120, markup=False)
err = Console(stderr=True, markup=False)


def _error_line(message: str) -> None:
    err.print(Text.assemble(("error:", "bold red"), " ", inert(one_line(message))), soft_wrap=True)


INTERRUPTED = 130


class CleanHelp:
    """`--help` without typer's artefacts: no type (`<bool>`) after a flag."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            if getattr(param, "is_flag", False):
                param.metavar = ""  # typer shows a flag's metavar where it would show `<bool>`
        return params


class Command(CleanHelp, TyperCommand):
    """A command whose usage line names its arguments NAME, or [NAME] when optional (not
    `{name}` or `[[NAME]]`)."""

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = (param.metavar or param.name).upper()
                pieces.append(name if param.required else f"[{name}]")
        return pieces


class OneLineErrors(CleanHelp, TyperGroup):
    """Usage errors (an unknown option, a bad value) as one line on stderr, exit code 2, like
    every other error a user can cause; Ctrl-C as one line with the resume hint, exit code 130."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except typer.Abort:  # Ctrl-C or end of input at a prompt
            err.print("interrupted")
            code = 130
        except typer.TyperException as error:  # click's usage errors, as typer vendors them
            context = getattr(error, "ctx", None)
            where = context.command_path if context is not None else "sparsearch"
            _error_line(f"{error.format_message()} (see `{where} --help`)")
            code = getattr(error, "exit_code", 2)
        code = code if isinstance(code, int) else 0
        if code == INTERRUPTED:  # typer's exit code for a KeyboardInterrupt, said in no words
            err.print("interrupted: rerun the same command to resume (finished work is kept)")
        if not standalone_mode:
            return code
        sys.exit(code)


app = typer.Typer(cls=OneLineErrors, add_completion=False, no_args_is_help=True, help=HELP,
                  pretty_exceptions_enable=False)


def _print_version(value: bool) -> None:
    if value:
        out.print(f"sparsearch {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
):
    pass


def user_errors(command):
    """Show a SparsearchError as one line on stderr and exit with code 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except SparsearchError as error:
            _error_line(str(error))
            raise typer.Exit(2) from None

    return wrapper


STORE = typer.Option(Path("sparsearch.db"), "--store", help="SQLite store file.")
VERDICTS = typer.Option(False, "--verdicts", help="Paired comparisons as one sentence each, not one table.")


def _argument(what: str):
    """The optional EXPERIMENT argument: the store's only experiment when omitted."""
    return typer.Argument(None, metavar="EXPERIMENT", show_default=False,
                          help=f"{what}; the store's only experiment if omitted (see `sparsearch ls`).")


def _experiment(db, store: Path, experiment: str | None, how: str) -> str:
    """`experiment` (one the store holds), or the store's only experiment when it is None; `how`
    says how to name one when the store holds several or none."""
    if experiment is not None:
        db.config_of(experiment)  # names the known experiments if this one is not
        return experiment
    names = [e["name"] for e in db.experiments()]
    if len(names) != 1:
        raise SparsearchError(f"{store} holds {len(names)} experiments ({', '.join(names) or 'none'}); "
                              f"{how}")
    return names[0]


@app.command(cls=Command)
@user_errors
def run(
    config_file: Optional[Path] = typer.Argument(None, metavar="CONFIG", show_default=False,
                                                 help="TOML config; the built-in default if omitted."),
    store: Path = STORE,
    quick_run: bool = typer.Option(False, "--quick", help="Smoke run: at most 3 seeds, 5 epochs, 10 candidates."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    report_dir: Optional[Path] = typer.Option(None, "--report", help="Also write the HTML report to this folder."),
    max_memory: Optional[float] = typer.Option(
        None, "--max-memory", min=0.01, help="Memory budget in GB of one batched program (overrides engine.max_memory_gb)."
    ),
    executor: Optional[str] = typer.Option(
        None, "--executor", help="Where populations train: in-process or ray (overrides engine.executor)."
    ),
    address: Optional[str] = typer.Option(
        None, "--address", help="Ray cluster to join, e.g. HOST:6379 (overrides engine.address); none: a local Ray."
    ),
    replace: bool = typer.Option(
        False, "--replace", help="Let a changed config replace the plan of the stored experiment of the same name."
    ),
    verdicts: bool = VERDICTS,
):
    """Run (or continue) an experiment and print its summary."""
    from .api import run as run_study
    from .arms import quick_arms
    from .display import RichProgress
    from .engine.device import resolve_device
    from .engine.precision import SlowPrecisionWarning, bf16_path, slow_bf16_note

    config = load_config(config_file) if config_file else Config()
    if quick_run:
        config = quick_arms(quick(config))
    config = with_engine(config, max_memory_gb=max_memory, executor=executor, address=address)
    if report_dir is not None and report_dir.exists() and not report_dir.is_dir():
        raise SparsearchError(f"--report {report_dir} is a file; pass a folder")
    if report_dir is not None:
        _report_folder(report_dir, "--report")  # said before any training
    started = time.perf_counter()
    if config.engine.precision != "fp32":
        err.print(slow_bf16_note(config.engine.precision, resolve_device(config.engine.device))
                  or f"precision {config.engine.precision} (this CPU's bf16 path: {bf16_path()})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SlowPrecisionWarning)  # said above, in one line
        warnings.showwarning = functools.partial(_warning_line, warnings.showwarning)
        if quiet:
            study = run_study(config, store=store, progress=False, replace=replace)
        else:
            threads = config.engine.thread_choice
            with RichProgress(err, f"threads: {threads.count} ({threads.reason})") as progress:
                study = run_study(config, store=store, progress=progress, replace=replace)
    with _open(store, write=False) as db:
        if report_dir is not None:
            _write_report(db, config.experiment.name, report_dir, "--report")
        _print_experiment(db, config.experiment.name, config, verdicts)
    seconds = time.perf_counter() - started
    done = study.outcome
    out.print(study.kind.done_line(done, store, seconds))
    failed = getattr(done, "failed", 0)
    if failed:
        reasons = sorted({row["reason"] for row in study.failures().to_dict("records")})
        what = "1 trial" if failed == 1 else f"{failed} trials"
        err.print(f"{what} failed ({'; '.join(reasons)}); recorded as failures (study.failures()), "
                  f"a rerun retrains them", soft_wrap=True)
        raise typer.Exit(1)


def _warning_line(show, message, category, *where, **more) -> None:
    """A failing logger's warning (tracking.LoggerWarning) as one line on stderr; others as Python shows them."""
    from .tracking import LoggerWarning

    if issubclass(category, LoggerWarning):
        err.print(f"warning: {inert(one_line(message))}", soft_wrap=True)
    else:
        show(message, category, *where, **more)


def _print_experiment(db, experiment: str, config: Config, verdicts: bool) -> None:
    """The summary of an experiment of any kind, as its kind prints it."""
    from .kinds import kind_of

    kind_of(config).show(db, experiment, config, out, verdicts=verdicts)


@contextmanager
def _open(path: Path, write: bool):
    from .store import Store

    db = Store(path, write=write)
    try:
        yield db
    finally:
        db.close()


def _report_folder(out_dir: Path, flag: str) -> None:
    """Create `out_dir` and check that a report can be written there (before any work)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SparsearchError(f"cannot create report folder {out_dir}: {error.strerror}; pass another {flag}") from None
    index = out_dir / "index.html"
    if index.is_dir() or not os.access(out_dir, os.W_OK | os.X_OK):
        what = f"{index} is a folder" if index.is_dir() else f"report folder {out_dir} is not writable"
        raise SparsearchError(f"{what}; pass another {flag}")


def _write_report(db, experiment: str, out_dir: Path, flag: str = "--out") -> None:
    from .study import Study

    _report_folder(out_dir, flag)
    try:
        index = Study(db, experiment).report(out_dir)
    except OSError as error:  # a full disk, a file replaced meanwhile
        raise SparsearchError(f"cannot write the report in {out_dir}: {one_line(error.strerror or error)}; "
                              f"free some space or pass another {flag}") from None
    err.print(f"report: {index}")


@app.command(cls=Command)
@user_errors
def report(
    store: Path = STORE,
    experiment: Optional[str] = typer.Option(None, "--experiment", help="Which experiment; the store's only one if "
                                             "omitted."),
    out_dir: Path = typer.Option(..., "--out", help="Folder for index.html and the figures (PNG and SVG)."),
):
    """Write a self-contained HTML report (figures, paired statistics, config, environment)."""
    with _open(store, write=False) as db:
        _write_report(db, _experiment(db, store, experiment, "pass --experiment NAME"), out_dir)


@app.command(cls=Command)
@user_errors
def front(
    experiment: Optional[str] = _argument("A super-network search"),
    store: Path = STORE,
    seed: int = typer.Option(0, "--seed", help="Which seed's searches."),
):
    """Print the Pareto front (validation error against costs) of each strategy for one seed."""
    from .study import Study

    with _open(store, write=False) as db:
        experiment = _experiment(db, store, experiment, "pass one: sparsearch front EXPERIMENT")
        study = Study(db, experiment)
        config, kind = study.config, study.kind
        if not hasattr(kind, "front_tables"):
            raise SparsearchError(f"{experiment!r} is a {kind.name} experiment, which has no Pareto front; `front` "
                                  f"needs a search ([experiment] kind = \"supernet\")")
        tables = kind.front_tables(db, experiment, config, seed)
    for table in tables:
        out.print(table)


@app.command("ls", cls=Command)
@user_errors
def list_experiments(store: Path = STORE):
    """List the store's experiments with their trial counts and status."""
    from rich.table import Table

    with _open(store, write=False) as db:
        experiments = db.experiments()
    if not experiments:
        out.print(f"{store}: no experiments")
        return
    table = Table(title=str(store), title_justify="left")
    for header in ("experiment", "trials done", "planned", "status", "updated"):
        table.add_column(header, justify="right" if header in ("trials done", "planned") else "left")
    for e in experiments:
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(e["updated"]))
        table.add_row(inert(e["name"]), str(e["done"]), str(e["planned"]), e["status"], stamp)
    out.print(table)


@app.command(cls=Command)
@user_errors
def show(experiment: Optional[str] = _argument("Experiment name"), store: Path = STORE, verdicts: bool = VERDICTS):
    """Print an experiment's config and summary table."""
    from .config import config_from_dict, tomllib

    with _open(store, write=False) as db:
        experiment = _experiment(db, store, experiment, "pass one: sparsearch show EXPERIMENT")
        config_text = db.config_of(experiment)
        out.print(f"# config of {inert(experiment)}")
        out.print(config_text)
        _print_experiment(db, experiment, config_from_dict(tomllib.loads(config_text)), verdicts)


@app.command(cls=Command)
@user_errors
def rm(
    experiment: str = typer.Argument(..., metavar="EXPERIMENT", help="Experiment name (see `sparsearch ls`)."),
    store: Path = STORE,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
):
    """Delete an experiment and the trials no other experiment uses."""
    with _open(store, write=True) as db:
        db.config_of(experiment)
        if not yes and not _confirmed(f"Delete experiment {experiment!r} from {store}?"):
            err.print("nothing deleted")
            raise typer.Exit(1)
        deleted = db.remove(experiment)
    out.print(f"deleted experiment {experiment!r} and {deleted} trials only it used")


def _confirmed(question: str) -> bool:
    """The user's yes or no: asked on a terminal; off one (a pipe, CI) read from standard input
    without a prompt, and input that ends unanswered is an error naming --yes."""
    if sys.stdin.isatty():
        return typer.confirm(question, err=True)
    answer = sys.stdin.readline()
    if not answer:
        raise SparsearchError("rm: standard input ended with no answer to confirm with; pass --yes")
    return answer.strip().lower() in ("y", "yes")


class Format(str, Enum):
    csv = "csv"
    json = "json"


@app.command(cls=Command)
@user_errors
def export(
    store: Path = STORE,
    fmt: Format = typer.Option(Format.csv, "--format", help="csv or json."),
    out_file: Optional[Path] = typer.Option(None, "--out", help="Output file; stdout if omitted."),
    experiment: Optional[str] = typer.Option(None, "--experiment", help="Only this experiment (--evaluations, "
                                             "--audits, --anytime, --kernels: the store's only one if omitted)."),
    evaluations: bool = typer.Option(False, "--evaluations", help="Elastic experiments: every evaluated configuration."),
    audits: bool = typer.Option(False, "--audits", help="Probe audits: per arm, sparsity and seed, how the probe ranked "
                                                         "fully trained candidates."),
    anytime: bool = typer.Option(False, "--anytime", help="Search trajectories: per search arm, sparsity and seed, the "
                                                           "best validation accuracy seen against search cost."),
    kernels: bool = typer.Option(False, "--kernels", help="Measured speed: per trial, every kernel it was timed with."),
):
    """Write one row per trained network (or, with --evaluations, per evaluated configuration)."""
    from .analysis.export import EXPORT_COLUMNS
    from .study import Study

    if experiment is not None and not experiment.strip():
        raise SparsearchError(f"--experiment {experiment!r}: pass an experiment name (see `sparsearch ls`)")
    if evaluations + audits + anytime + kernels > 1:
        raise SparsearchError("pass at most one of --evaluations, --audits, --anytime and --kernels")
    table = ("evaluations" if evaluations else "audits" if audits else "anytime" if anytime else "kernels" if kernels
             else "trials")
    with _open(store, write=False) as db:
        if experiment or table != "trials":  # every experiment's trials, one experiment's other tables
            experiment = _experiment(db, store, experiment, f"pass --{table} --experiment NAME")
        names = [experiment] if experiment else sorted(e["name"] for e in db.experiments())
        kinds = {name: Study(db, name).kind for name in names}
        chosen = [name for name in names if table in kinds[name].tables]
        if names and not chosen:
            has = sorted({t for kind in kinds.values() for t in kind.tables})
            flag = "drop the flag" if table != "trials" else f"pass --{has[0]} --experiment NAME"
            raise SparsearchError(f"{', '.join(map(repr, names))}: {'this experiment has' if experiment else 'these have'} "
                                  f"{', '.join(has)}, not {table}; {flag}")
        columns, rows = list(EXPORT_COLUMNS), []
        for name in chosen:
            columns, more = kinds[name].export(db, name, table)
            rows += more
    rows = [{k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in r.items()} for r in rows]
    if fmt is Format.json:
        text = json.dumps(rows, indent=1) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    if out_file is None:
        sys.stdout.write(text)
    else:
        try:
            out_file.write_text(text)
        except OSError as error:
            raise SparsearchError(f"cannot write {out_file}: {error.strerror}; pass another --out") from None


@app.command(cls=Command)
@user_errors
def measure(
    experiment: Optional[str] = _argument("A mask study"),
    store: Path = STORE,
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu, cuda or mps (overrides engine.device)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch threads (overrides engine.threads)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Throughput batch (overrides measure.batch_size)."),
    warmup: Optional[int] = typer.Option(None, "--warmup", help="Untimed calls first (overrides measure.warmup)."),
    repeats: Optional[int] = typer.Option(None, "--repeats", help="Timed samples (overrides measure.repeats)."),
    kernel: Optional[str] = typer.Option(None, "--kernel", help="torch or onnxruntime (overrides measure.kernel)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
):
    """Time every trial's network on this machine and print accuracy, FLOPs and latency per arm."""
    from .analysis.export import export_rows
    from .display import RichProgress, speed_table
    from .measure.trials import measure_stored

    settings = dict(device=device, threads=threads, batch_size=batch_size, warmup=warmup, repeats=repeats, kernel=kernel)
    with _open(store, write=True) as db:
        experiment = _experiment(db, store, experiment, "pass one: sparsearch measure EXPERIMENT")
        if quiet:
            measured = measure_stored(db, experiment, **settings)
        else:
            with RichProgress(err, "measuring one network at a time") as progress:
                measured = measure_stored(db, experiment, progress=progress, **settings)
        rows = export_rows(db, experiment)
    table = speed_table(rows, f"{inert(experiment)}: measured speed")
    if table is not None:
        out.print(table)
    reused = len({r["trial_key"] for r in rows if r["latency_ms"] is not None}) - measured
    out.print(f"{measured} networks measured now, {reused} reused (export: latency_* columns)")


@app.command("export-model", cls=Command)
@user_errors
def export_model(
    trial_key: str = typer.Argument(..., metavar="KEY", help="The trial (the trial_key column of `sparsearch export`)."),
    store: Path = STORE,
    out_file: Path = typer.Option(..., "--out", help="net.onnx (ONNX opset 17), net.safetensors (state dict and what "
                                                     "rebuilds it) or net.pt2 (torch.export)."),
    which: str = typer.Option("best", "--which", help="best: the weights at its best validation epoch (test_acc); "
                                                      "final: after its last epoch (final_test_acc)."),
):
    """Write a trained network, its masks applied (compacted or folded in), as ONNX, safetensors or torch.export;
    a trial stored without its weights is retrained, bitwise as stored, to rebuild them."""
    from .display import RichProgress
    from .study import export_model as write

    with RichProgress(err, transient=True) as progress:  # drawn only while a trial is retrained
        written = write(store, trial_key, out_file, which, progress=progress)
    out.print(inert(str(written)), soft_wrap=True)


@app.command("config", cls=Command)
@user_errors
def config_command(
    default: bool = typer.Option(False, "--default", help="Print the built-in default config."),
    check: Optional[Path] = typer.Option(None, "--check", help="Validate a config file and print it in full."),
):
    """Print the default config as commented TOML (a starting point), or validate one and print it in full."""
    from .kinds import kind_of, settings

    if default == (check is not None):
        raise SparsearchError("pass exactly one of --default or --check FILE")
    config = Config() if default else load_config(check)
    kind = kind_of(config)
    settings(config)
    kind.validate(config)
    sys.stdout.write(annotated_toml(kind.settings_in_full(config)))


def _numbers(text: str, kind: type, option: str) -> list:
    try:
        return [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise SparsearchError(f"{option}: expected comma-separated numbers, got {text!r}") from None


@app.command(cls=Command)
@user_errors
def bench(
    populations: str = typer.Option("1,16,64,256", help="Population sizes of the digits MLP grid, comma-separated."),
    sparsities: str = typer.Option("0,0.5,0.9", help="Node sparsities of the digits MLP grid, comma-separated."),
    extra: bool = typer.Option(True, help="Also the MNIST-1D, tall-and-thin and wide MLP workloads."),
    mlp: bool = typer.Option(True, help="The MLP workloads (--no-mlp: the conv workloads only)."),
    conv: bool = typer.Option(True, help="The conv workloads (those of --conv-kinds)."),
    conv_kinds: str = typer.Option("cnn1d,lenet5", help="Conv parents, comma-separated: cnn1d on MNIST-1D, lenet5 on "
                                   "digits, conv4 and resnet20 on CIFAR-shaped noise (minutes per method at P = 16)."),
    conv_populations: str = typer.Option("16,64", help="Population sizes of cnn1d (the other conv kinds: the "
                                                       "first), comma-separated."),
    vit: bool = typer.Option(False, help="Also the vit parent on digits at the first of --conv-populations "
                                         "(minutes per method at P = 16)."),
    epochs: int = typer.Option(3, min=1),
    threads: int = typer.Option(2, min=1, help="torch intra-op threads."),
    plain_max: int = typer.Option(16, min=1, help="Most networks the plain loop is timed on (its time is linear in P)."),
    repeats: int = typer.Option(2, min=1, help="Timings per method; the fastest is kept."),
    steps: bool = typer.Option(True, help="Also time one training step of each dense MLP shape against its GEMMs."),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
):
    """Time the engine against a plain loop and torch.func ensembling on identical work (MLP and conv parents)."""
    import os

    import torch

    from . import bench as benchmark
    from .bench.step import STEP_COLUMNS
    from .config import TrainConfig
    from .display import RichProgress
    from .engine.precision import bf16_path

    pops = _numbers(populations, int, "--populations")
    if not pops or min(pops) < 1:
        raise SparsearchError(f"--populations: give whole numbers >= 1, got {populations!r}")
    conv_pops = _numbers(conv_populations, int, "--conv-populations")
    if (conv or vit) and (not conv_pops or min(conv_pops) < 1):
        raise SparsearchError(f"--conv-populations: give whole numbers >= 1, got {conv_populations!r}")
    workloads = benchmark.mlp_workloads(pops, _numbers(sparsities, float, "--sparsities"), extra) if mlp else []
    kinds = [part.strip() for part in conv_kinds.split(",") if part.strip()]
    workloads += benchmark.conv_workloads(conv_pops, kinds) if conv else []
    workloads += benchmark.vit_workloads(conv_pops[:1]) if vit else []
    if not workloads:
        raise SparsearchError("--no-mlp --no-conv: nothing to benchmark")
    load = os.getloadavg()[0]
    kwargs = dict(epochs=epochs, threads=threads, plain_max=plain_max, repeats=repeats, step_shapes=steps)
    if quiet:
        result = benchmark.run_bench(workloads, **kwargs)
    else:
        with RichProgress(err) as progress:
            result = benchmark.run_bench(workloads, progress=progress, **kwargs)
    load_end = os.getloadavg()[0]
    recipes = ", ".join(f"{kind} {r.optimizer} lr {r.lr:g} batch {r.batch_size}"
                        for kind, r in (("MLP", TrainConfig()), ("conv", TrainConfig(**benchmark.CONV_RECIPE)),
                                        *((("vit", TrainConfig(**benchmark.VIT_RECIPE)),) if vit else ())))
    if as_json:
        sys.stdout.write(json.dumps({"matmul_peak_gflops": result.peaks, "bf16_path": bf16_path(),
                                     "load_average": [load, load_end], "rows": result.rows, "steps": result.steps},
                                    indent=1) + "\n")
        return
    out.print(benchmark.format_table(result.rows), soft_wrap=True)
    if result.steps:
        out.print("\nOne training step, ms (fastest mean of 5 x 20 steps); ceiling = the step's GEMMs alone:")
        out.print(benchmark.format_table(result.steps, STEP_COLUMNS), soft_wrap=True)
    out.print(
        f"torch {torch.__version__}, {threads} threads, {os.cpu_count()} CPUs, load average {load:.2f} at start, "
        f"{load_end:.2f} at end; torch.mm peak {result.peaks['fp32']:.0f} GFLOP/s fp32, {result.peaks['bf16']:.0f} "
        f"bf16 (bf16 path: {bf16_path()}); {epochs} epochs, fastest of {repeats}; the plain loop is timed on "
        f"at most {plain_max} networks and scaled linearly; recipes: {recipes}; % of ceiling: a conv workload's "
        f"convolutions and dense products alone, forward and backward, in the engine's form (bench/ceiling.py)."
    )
