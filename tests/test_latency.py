"""Measured sub-network latency and the per-layer latency lookup table (supernet/latency.py).

Cache behaviour is tested with an injected counting timer (no timing at all); the accuracy and
monotonicity tests time real kernels on one thread (set by the `one_thread` fixture, as a caller
would: these functions never set the thread count themselves). With two threads on a shared
2-core machine, a busy neighbour process stalls every parallel kernel by a scheduler time slice,
so timings there measure contention, not the layers.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from sparsearch.errors import SparsearchError
from sparsearch.supernet.latency import (
    LatencyTable,
    layer_keys,
    measured_latency,
    table_error,
    time_layer,
    time_network,
)

DIGITS_NETS = [(64, 300, 100, 10), (64, 150, 50, 10), (64, 75, 25, 10)]
TOLERANCE = 0.5


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class CountingTimer:
    """A fake `time_layer`: seconds = MACs * 1e-9 + 1e-6, and a log of the shapes it timed."""

    def __init__(self):
        self.calls = []

    def __call__(self, fan_in, fan_out, batch, relu):
        self.calls.append((fan_in, fan_out, batch, relu))
        return fan_in * fan_out * batch * 1e-9 + 1e-6


def test_layer_keys_put_relu_between_layers_only():
    assert layer_keys((64, 150, 50, 10), 8) == [
        (64, 150, 8, True),
        (150, 50, 8, True),
        (50, 10, 8, False),
    ]
    assert layer_keys((5, 3), 1) == [(5, 3, 1, False)]


def test_table_times_each_shape_once_and_sums_exactly():
    timer = CountingTimer()
    table = LatencyTable(timer=timer)
    first = table.layer(64, 150, 64, True)
    assert table.layer(64, 150, 64, True) == first
    assert table.measured == 1 and timer.calls == [(64, 150, 64, True)]

    # (64, 150, 50, 10) reuses the (64, 150) entry; (64, 150, 25, 10) shares nothing else.
    a = table.network((64, 150, 50, 10), 64)
    assert table.measured == 3
    b = table.network((64, 150, 25, 10), 64)
    assert table.measured == 5
    assert table.network((64, 150, 50, 10), 64) == a and table.measured == 5
    assert len(timer.calls) == len(set(timer.calls)) == 5

    for widths, lut in (((64, 150, 50, 10), a), ((64, 150, 25, 10), b)):
        total = 0.0
        for key in layer_keys(widths, 64):
            total += table.store[key]
        assert lut == total  # exactly the sum of its layers' entries

    # relu and batch are part of the key
    table.layer(64, 150, 64, False)
    table.layer(64, 150, 1, True)
    assert table.measured == 7


def test_table_reads_and_writes_the_callers_mapping():
    store = {(64, 30, 64, True): 0.5}  # e.g. loaded from the SQLite store
    timer = CountingTimer()
    table = LatencyTable(store, timer=timer)
    assert table.store is store
    assert table.network((64, 30, 10), 64) == 0.5 + store[(30, 10, 64, False)]
    assert table.measured == 1 and timer.calls == [(30, 10, 64, False)]

    empty: dict = {}
    LatencyTable(empty, timer=timer).layer(3, 4, 5, True)
    assert empty == {(3, 4, 5, True): 3 * 4 * 5 * 1e-9 + 1e-6}


def test_real_table_caches_measurements(one_thread):
    table = LatencyTable(repeats=3)
    seconds = table.layer(64, 30, 64, True)
    assert 0 < seconds < 0.1
    assert table.layer(64, 30, 64, True) == seconds and table.measured == 1
    assert table.network((64, 30, 10), 64) == seconds + table.store[(30, 10, 64, False)]
    assert table.measured == 2


def _lut_errors(networks, batch):
    return table_error(LatencyTable(), networks, batch)


def test_lut_reproduces_whole_network_timings(one_thread, record_property):
    """Summed per-layer entries predict whole-network latency within a mean absolute relative
    error of 0.5 (TOLERANCE): the digits parent and two node-sparse children at batch 64, the
    middle child at batch 1. Timings are medians; each check is re-measured once (fresh table)
    before it fails, so one burst of load from another process cannot fail it."""
    for batch, networks in ((64, DIGITS_NETS), (1, [DIGITS_NETS[1]])):
        result = _lut_errors(networks, batch)
        if result["mean_abs_rel_error"] > TOLERANCE:
            result = _lut_errors(networks, batch)
        pairs = ", ".join(f"{lut * 1e6:.1f}/{m * 1e6:.1f}us" for lut, m in result["pairs"])
        print(
            f"latency LUT batch {batch}: mean abs rel error {result['mean_abs_rel_error']:.3f}, "
            f"max {result['max_abs_rel_error']:.3f} (lut/measured: {pairs})"
        )
        record_property(f"lut_mean_abs_rel_error_batch{batch}", result["mean_abs_rel_error"])
        record_property(f"lut_max_abs_rel_error_batch{batch}", result["max_abs_rel_error"])
        assert len(result["pairs"]) == len(networks)
        assert all(lut > 0 and m > 0 for lut, m in result["pairs"])
        assert result["mean_abs_rel_error"] <= TOLERANCE, result


def test_latency_grows_with_width(one_thread):
    def wide_vs_narrow():
        return time_layer(300, 300, 64, True, repeats=5), time_layer(30, 30, 64, True, repeats=5)

    wide, narrow = wide_vs_narrow()
    if not wide > narrow:
        wide, narrow = wide_vs_narrow()
    assert wide > narrow, (wide, narrow)


@pytest.mark.parametrize(
    "call",
    [
        lambda: time_layer(0, 10, 1, True),
        lambda: time_layer(10, 10, 1, True, repeats=0),
        lambda: time_network((64,), 1),
        lambda: time_network((64, 10), 0),
        lambda: LatencyTable().network((64, -3, 10), 1),
        lambda: table_error(LatencyTable(), [], 1),
    ],
)
def test_bad_arguments_raise_one_error_type(call):
    with pytest.raises(SparsearchError):
        call()


class Probe(nn.Module):
    """Records, at every forward, where and how it ran (in a class attribute: a copy is timed)."""

    seen: list = []

    def forward(self, x):
        Probe.seen.append((x.device.type, x.shape, torch.is_grad_enabled(), self.training, torch.get_num_threads()))
        return x


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


@pytest.mark.parametrize("device", DEVICES)
def test_measured_latency_times_a_copy_as_mask_studies_do(device):
    net = nn.Sequential(nn.Conv1d(2, 4, 3), nn.ReLU(), Probe(), nn.Flatten(), nn.Linear(4 * 6, 3))
    Probe.seen.clear()
    before = torch.get_num_threads()
    seconds = measured_latency(net, (2, 8), 5, 1, device, warmup=2, repeats=3)
    assert isinstance(seconds, float) and math.isfinite(seconds) and seconds > 0
    # every call: on the device, batch 5, no autograd, eval mode, the requested thread count
    assert set(Probe.seen) == {(device, (5, 4, 6), False, False, 1)} and len(Probe.seen) >= 2 + 3
    assert torch.get_num_threads() == before
    assert net.training and net[0].weight.device.type == "cpu"  # the caller's module is untouched


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch": 0}, "batch must be a positive integer, got 0"),
        ({"batch": "8"}, "batch must be a positive integer, got '8'"),
        ({"batch": 2.5}, "batch must be a positive integer, got 2.5"),
        ({"threads": 0}, "threads must be a positive integer, got 0"),
        ({"input_shape": ()}, "input_shape must be a non-empty tuple of one example's sizes, got ()"),
        ({"input_shape": (3, 0)}, "input_shape[1] must be a positive integer, got 0"),
        ({"repeats": 0}, "repeats must be a positive integer, got 0"),
        ({"warmup": -1}, "warmup must be an integer >= 0, got -1"),
    ],
)
def test_measured_latency_refuses_nonsense_in_one_line(kwargs, message):
    args = {"input_shape": (3,), "batch": 4, "threads": 1, "device": "cpu", **kwargs}
    with pytest.raises(SparsearchError) as error:
        measured_latency(nn.Linear(3, 2), **args)
    assert str(error.value) == message
