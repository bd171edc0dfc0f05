"""Measure an experiment's trials: each trial's network timed alone on one device, at batch 1 and
at `[measure] batch_size`, without autograd (`torch.no_grad`), with every kernel it can honestly run
(measure/kernels.py); the fastest at `batch_size` is its latency. Nothing else of the run
computes meanwhile: trials are measured one after another, after training.

A trial is timed with its final weights where the store kept them, else with the parent's
initialisation under the trial's mask: the same shapes and the same sparsity pattern, which is
all these kernels' speed depends on. Measurements are records of the experiment, keyed by the
trial and the measurement's setup (device, CPU model or GPU name, threads, batch size, warm-up,
repeats, backend), so a rerun reuses them and another device adds its own; the export shows
the setup the experiment was last measured under."""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

from ..config import Config, config_from_dict, tomllib, with_engine, with_settings
from ..engine.device import resolve_device
from ..engine.executor import torch_settings
from ..engine.memory import meta_params, refuse_over
from ..errors import SparsearchError
from ..nets import from_spec
from ..networks import trial_parts
from ..progress import Progress
from ..store import Store
from .kernels import inference_modules
from .records import SHOWN, SPEED
from .timing import Timing, forward, time_call

def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux, else what `platform` says)."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def device_label(device: str, threads: int) -> str:
    """Which hardware a measurement ran on, in words: the GPU's name, or the CPU model and threads."""
    if device == "cuda":
        return f"cuda: {torch.cuda.get_device_name()}"
    if device == "mps":
        return "mps: Apple GPU"
    return f"cpu: {cpu_model()}, {threads} thread{'s' if threads != 1 else ''}"


@dataclass(frozen=True)
class Setup:
    """Everything a measurement depends on besides the network."""

    device: str  # `device_label`
    batch_size: int
    warmup: int
    repeats: int
    kernel: str  # the backend: "torch" or "onnxruntime"

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


def setup_of(config: Config, device: str, threads: int) -> Setup:
    m = config.measure
    return Setup(device_label(device, threads), m.batch_size, m.warmup, m.repeats, m.kernel)


def check_measure(parent, config: Config) -> None:
    """Refuse a `[measure] batch_size` whose forward pass would not fit `[engine] max_memory_gb`
    (estimated as one network's training at that batch, an upper bound), before anything runs."""
    batch = config.measure.batch_size
    refuse_over(parent.footprint(meta_params(parent), batch)[0], "measure.batch_size", batch,
                "timing one network", "use a smaller batch or raise engine.max_memory_gb", config.engine.max_memory)
    if config.measure.kernel == "onnxruntime":
        from ..model_export import require

        if resolve_device(config.engine.device) != "cpu":
            raise SparsearchError(f'measure.kernel = "onnxruntime" times on the CPU; with engine.device = '
                                  f'{config.engine.device!r} pass --device cpu or use kernel = "torch"')
        require("onnx", "measure.kernel = \"onnxruntime\"")
        require("onnxruntime", "measure.kernel = \"onnxruntime\"")


Runner = Callable[[torch.Tensor], Callable[[], object]]


def _runners(module: torch.nn.Module, space: str, device: str, backend: str, features: int,
             threads: int) -> dict[str, Runner]:
    """Kernel name -> a function that binds an input and returns the call to time."""
    if backend == "onnxruntime":
        from ..model_export import onnx_session

        session = onnx_session(module, features, threads)

        def run_session(x: torch.Tensor) -> Callable[[], object]:
            feed = {"features": x.cpu().numpy()}
            return lambda: session.run(None, feed)
        return {"onnxruntime": run_session}

    return {name: functools.partial(forward, net) for name, net in inference_modules(module, space, device).items()}


def measure_network(module: torch.nn.Module, space: str, features: int, setup: Setup, device: str,
                    threads: int) -> dict:
    """Time `module` (a trial's network) with every kernel it can run, at batch 1 and at the
    setup's batch size: the fastest at the batch size and what every kernel measured (ms)."""
    timings: dict[str, dict[int, Timing]] = {}
    inputs = {batch: torch.randn(batch, features, generator=torch.Generator().manual_seed(batch)).to(device)
              for batch in sorted({1, setup.batch_size})}
    for name, runner in _runners(module, space, device, setup.kernel, features, threads).items():
        timings[name] = {batch: time_call(runner(x), setup.warmup, setup.repeats, device) for batch, x in inputs.items()}
    fastest = min(timings, key=lambda name: timings[name][setup.batch_size].median)
    kernels = {name: {"ms": 1e3 * t[setup.batch_size].median, "b1_ms": 1e3 * t[1].median,
                      "iqr_ms": 1e3 * t[setup.batch_size].iqr} for name, t in timings.items()}
    return {"kernel": fastest, **kernels[fastest], "kernels": kernels}


def measure_experiment(store: Store, experiment: str, config: Config, device: str, threads: int,
                       progress: Progress | None = None) -> int:
    """Measure every completed trial of `experiment` not yet measured under this setup (the
    experiment's `[measure]` settings on `device` with `threads`); return how many were."""
    progress = progress or Progress()
    setup = setup_of(config, device, threads)
    known = store.records(experiment, SPEED)
    rows, _ = store.trial_rows(experiment)
    todo = list(dict.fromkeys(row["trial_key"] for row in rows if _record_key(row["trial_key"], setup) not in known))
    store.write_records(experiment, SHOWN, {SHOWN: asdict(setup)})
    if not todo:
        return 0
    progress.phase("measuring latency", len(todo))
    for key in todo:
        parts = trial_parts(store, key, which="final", stored_weights=False)  # the trial's own mask and shapes
        record = measure_network(parts.module(), parts.trial["spec"]["space"], parts.parent.widths[0], setup, device,
                                 threads)
        store.write_records(experiment, SPEED, {_record_key(key, setup): {
            **record, "trial": key, "setup": asdict(setup), "measured": time.time()}})
        progress.advance(1)
    return len(todo)


def measure_stored(store: Store | str, experiment: str, *, device: str | None = None, threads: int | None = None,
                   progress: Progress | None = None, **settings) -> int:
    """Measure the stored `experiment`'s trials not yet measured under its `[measure]` settings
    changed by `settings` (batch_size, warmup, repeats, kernel), on `device` with `threads`
    (default: its `[engine]` ones); return how many were measured now. Everything is validated
    before the store is written."""
    if not isinstance(store, Store):
        with Store.open(store, write=True) as db:
            return measure_stored(db, experiment, device=device, threads=threads, progress=progress, **settings)
    config = config_from_dict(tomllib.loads(store.config_of(experiment)))
    refuse_kind(config)
    config = with_engine(with_settings(config, "measure", **settings), device=device, threads=threads)
    where = resolve_device(config.engine.device)
    rows, _ = store.trial_rows(experiment)
    if rows:
        check_measure(from_spec(store.trial(rows[0]["trial_key"])["spec"]["parent"]), config)
    count = config.engine.thread_choice.count
    with torch_settings(count, where):
        return measure_experiment(store, experiment, config, where, count, progress)


def _record_key(trial_key: str, setup: Setup) -> str:
    return f"{trial_key} {setup.digest}"


def refuse_kind(config: Config) -> None:
    """Only mask studies' trials are measured here."""
    if config.experiment.kind != "mask":
        raise SparsearchError(f"measure times the trials of mask studies; {config.experiment.name!r} is a "
                              f"{config.experiment.kind!r} experiment (a super-network search measures its "
                              f"`latency` objective while it searches)")
