"""Latency of compacted sub-networks: measured whole (`measured_latency`), or predicted from a
per-layer lookup table (LUT) on the CPU.

`measured_latency` times a sub-network's compacted module on the run's device exactly as a mask
study times its trials (measure/: eval-mode copy on the device, `torch.no_grad`, warm-up, the
run's thread count, measure/timing.py's `time_call`, with `[measure]`'s default warm-up and
repeats).

Timing every candidate of a super-network search is too slow, so, as in Once-for-All
(Cai et al., ICLR 2020, latency lookup tables) and Intel DyNAS-T, latency is predicted
from a table of per-layer timings: the time of one `x @ W + b` (+ ReLU) of shape
(fan_in, fan_out) at a batch size is measured once and cached, and a network's latency is
the sum of its layers' entries. `table_error` states how far that sum is from timing the
whole network.

Method: CPU, float32, contiguous tensors, `torch.no_grad()`, the same `torch.addmm` (+ in-place
ReLU) kernel `nn.Linear` uses, timed as every measured network is (measure/timing.py's
`time_call`): after warm-up, an inner loop of k calls, k doubled until one loop lasts at least
`min_seconds` (2 ms); the median over `repeats` such loops, divided by k. These functions never change torch's
thread count (the caller sets it) and do no I/O: the table's entries live in whatever
mapping the caller passes in (e.g. one backed by the SQLite store).

A table is valid for the thread count it was measured with (`LatencyTable.threads` records
it; persist it with the entries). On a shared machine prefer one thread: when another process
keeps the cores busy, every multi-threaded kernel waits a scheduler time slice (milliseconds)
for its second thread, and the timings then measure contention rather than the layers.
"""

from __future__ import annotations

import numbers
import statistics
from collections.abc import Callable, MutableMapping, Sequence

import torch
from torch import Tensor

from ..config import MeasureConfig
from ..engine.executor import torch_settings
from ..errors import SparsearchError
from ..measure.kernels import COMPACT, inference_modules
from ..measure.timing import forward, time_call

Key = tuple[int, int, int, bool]  # (fan_in, fan_out, batch, relu)
REPEATS = 7
MIN_SECONDS = 2e-3
WARMUP = 3


def _positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or int(value) != value or value < 1:
        raise SparsearchError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def measured_latency(
    module: torch.nn.Module,
    input_shape: tuple[int, ...],
    batch: int,
    threads: int,
    device,
    *,
    warmup: int = MeasureConfig().warmup,
    repeats: int = MeasureConfig().repeats,
) -> float:
    """Seconds per forward of `module` on a batch of `batch` inputs of shape `input_shape` (one
    example, e.g. (1, 40) for a cnn1d) on `device` with `threads` intra-op threads: the median of
    `repeats` timed loops after `warmup` calls, measured as mask studies measure their trials
    (measure/trials.py). `module` itself is left as it was (a copy is timed)."""
    batch, threads = _positive("batch", batch), _positive("threads", threads)
    if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__len__") or not input_shape:
        raise SparsearchError(f"input_shape must be a non-empty tuple of one example's sizes, got {input_shape!r}")
    shape = tuple(_positive(f"input_shape[{i}]", n) for i, n in enumerate(input_shape))
    kind = torch.device(device).type
    net = inference_modules(module, "node", str(device))[COMPACT]
    x = torch.randn(batch, *shape, generator=torch.Generator().manual_seed(batch)).to(device)
    with torch_settings(threads, kind):
        return time_call(forward(net, x), _count("warmup", warmup), _positive("repeats", repeats), kind).median


def _count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or int(value) != value or value < 0:
        raise SparsearchError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def _check_widths(widths: Sequence[int]) -> tuple[int, ...]:
    if len(widths) < 2:
        raise SparsearchError(
            f"widths must list at least an input and an output width, got {tuple(widths)!r}"
        )
    return tuple(_positive(f"widths[{i}]", w) for i, w in enumerate(widths))


def _forward(x: Tensor, layers: list[tuple[Tensor, Tensor, bool]]) -> Tensor:
    for weight, bias, relu in layers:
        x = torch.addmm(bias, x, weight)
        if relu:
            x = torch.relu_(x)
    return x


def _make_layers(
    widths: tuple[int, ...], relu_last: bool, gen: torch.Generator
) -> list[tuple[Tensor, Tensor, bool]]:
    last = len(widths) - 2
    return [
        (
            torch.randn(a, b, generator=gen).contiguous(),
            torch.randn(b, generator=gen),
            relu_last if i == last else True,
        )
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]))
    ]


def _time_widths(
    widths: tuple[int, ...], batch: int, relu_last: bool, repeats: int, min_seconds: float
) -> float:
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        layers = _make_layers(widths, relu_last, gen)
        x = torch.randn(batch, widths[0], generator=gen).contiguous()
        return time_call(lambda: _forward(x, layers), WARMUP, _positive("repeats", repeats), "cpu", min_seconds).median


def time_layer(
    fan_in: int,
    fan_out: int,
    batch: int,
    relu: bool,
    repeats: int = REPEATS,
    min_seconds: float = MIN_SECONDS,
) -> float:
    """Seconds for one forward of `x @ W + b` (+ ReLU if `relu`) with x [batch, fan_in] and
    W [fan_in, fan_out] on CPU: the median of `repeats` timed loops after warm-up (the LUT
    entry of Once-for-All / DyNAS-T style latency tables)."""
    widths = (_positive("fan_in", fan_in), _positive("fan_out", fan_out))
    return _time_widths(widths, _positive("batch", batch), bool(relu), repeats, min_seconds)


def time_network(
    widths: Sequence[int],
    batch: int,
    repeats: int = REPEATS,
    min_seconds: float = MIN_SECONDS,
) -> float:
    """Seconds for one forward of the whole compacted ReLU MLP `widths` (e.g. (64, 150, 50, 10)):
    its layers in sequence, ReLU between them and none after the last, timed as `time_layer`."""
    return _time_widths(
        _check_widths(widths), _positive("batch", batch), False, repeats, min_seconds
    )


def layer_keys(widths: Sequence[int], batch: int) -> list[Key]:
    """The table keys (fan_in, fan_out, batch, relu) of network `widths`' layers, in order."""
    widths = _check_widths(widths)
    batch = _positive("batch", batch)
    last = len(widths) - 2
    return [(a, b, batch, i != last) for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]))]


class LatencyTable:
    """Per-layer latency lookup table (Once-for-All, Cai et al. 2020; Intel DyNAS-T).

    `store` is any `MutableMapping[(fan_in, fan_out, batch, relu), seconds]` (default: a new
    in-memory dict); the table reads it first and writes every entry it times, so a caller can
    persist it. `measured` counts the entries this instance timed; `threads` is torch's thread
    count when the table was made (entries are valid for that count). `timer` replaces
    `time_layer` (same arguments), e.g. in tests.
    """

    def __init__(
        self,
        store: MutableMapping[Key, float] | None = None,
        *,
        repeats: int = REPEATS,
        timer: Callable[[int, int, int, bool], float] | None = None,
    ):
        self.store: MutableMapping[Key, float] = {} if store is None else store
        self.repeats = _positive("repeats", repeats)
        self._timer = timer
        self.measured = 0
        self.threads = torch.get_num_threads()

    def layer(self, fan_in: int, fan_out: int, batch: int, relu: bool) -> float:
        """Seconds of one Linear(+ReLU) layer: the cached entry, or timed now and stored."""
        key: Key = (
            _positive("fan_in", fan_in),
            _positive("fan_out", fan_out),
            _positive("batch", batch),
            bool(relu),
        )
        cached = self.store.get(key)
        if cached is not None:
            return float(cached)
        if self._timer is None:
            seconds = time_layer(*key, repeats=self.repeats)
        else:
            seconds = float(self._timer(*key))
        self.store[key] = seconds
        self.measured += 1
        return seconds

    def network(self, widths: Sequence[int], batch: int) -> float:
        """Predicted seconds of network `widths` at `batch`: the sum of its layers' entries."""
        total = 0.0
        for key in layer_keys(widths, batch):
            total += self.layer(*key)
        return total

    def __len__(self) -> int:
        return len(self.store)


def table_error(
    table: LatencyTable,
    networks: list[Sequence[int]],
    batch: int,
    repeats: int = REPEATS,
) -> dict:
    """The table's error against whole-network timings (`time_network`) of `networks` at
    `batch`: {"mean_abs_rel_error", "max_abs_rel_error", "pairs": [(lut, measured), ...]},
    relative errors being |lut - measured| / measured."""
    if not networks:
        raise SparsearchError("table_error needs at least one network")
    pairs = []
    for widths in networks:
        lut = table.network(widths, batch)
        measured = time_network(widths, batch, repeats=repeats)
        pairs.append((lut, measured))
    errors = [abs(lut - measured) / measured for lut, measured in pairs]
    return {
        "mean_abs_rel_error": statistics.fmean(errors),
        "max_abs_rel_error": max(errors),
        "pairs": pairs,
    }
