"""Where the engine computes: `[engine] device` ("auto", "cpu", "cuda", "mps"), resolved once
per run, and the moves between it and the CPU (docs/devices.md).

Arms, masks, the store and the executors' messages hold CPU tensors; the engine moves what it
computes on (a chunk's layers and masks, a copy of the data made once per trainer, probe
candidates, super-networks) to the device and brings its results back to the CPU."""

from __future__ import annotations

import dataclasses
import os
import weakref
from typing import Literal

import torch
from torch import Tensor

from ..errors import SparsearchError

Device = Literal["cpu", "cuda", "mps"]

CUBLAS_WORKSPACE = ":4096:8"
"""cuBLAS's workspace setting for deterministic GEMMs (CUDA >= 10.2; PyTorch's reproducibility
notes): without it `torch.use_deterministic_algorithms(True)` refuses cuBLAS calls."""


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(setting: str) -> Device:
    """The device `[engine] device` names: "auto" is CUDA if present, else MPS if present, else
    the CPU; an explicit "cuda" or "mps" that this machine lacks is a one-line SparsearchError
    (the config schema admits no other setting)."""
    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    if setting == "cuda" and not torch.cuda.is_available():
        raise SparsearchError('engine.device = "cuda": no CUDA GPU is available here (torch '
                              f'{torch.__version__}); use device = "auto" or "cpu"')
    if setting == "mps" and not _mps_available():
        raise SparsearchError('engine.device = "mps": Apple\'s MPS backend is not available here; '
                              'use device = "auto" or "cpu"')
    return setting


def prepare(device: str) -> None:
    """What a process must set before its first computation on `device`: cuBLAS's deterministic
    workspace on CUDA (kept if the user set one)."""
    if device == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)


def moved(tensors, device: str):
    """Tensors of nested lists/tuples on `device` (the same objects where already there)."""
    if tensors is None:
        return None
    if isinstance(tensors, Tensor):
        return tensors.to(device)
    return type(tensors)(moved(t, device) for t in tensors)


def on_cpu(tensors):
    """Tensors of nested lists/tuples on the CPU, as the store and arms read them."""
    return moved(tensors, "cpu")


SPLITS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")

_COPIES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
"""Dataset -> {device: its copy there}: each dataset is moved once per device and process."""


def dataset_on(data, device: str):
    """The Dataset `data` with its splits on `device`: `data` itself where it already is, else
    a copy made once per process and kept while `data` lives."""
    if all(getattr(data, name).device.type == torch.device(device).type for name in SPLITS):
        return data
    copies = _COPIES.setdefault(data, {})
    if device not in copies:
        copies[device] = dataclasses.replace(data, **{name: getattr(data, name).to(device) for name in SPLITS})
    return copies[device]
