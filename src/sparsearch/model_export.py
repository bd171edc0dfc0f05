"""A found network as a file other tools run: ONNX, a safetensors state dict, or `torch.export`.

The written network is the trial's final one with its masks applied for good: a node mask's
network is already compacted (thinner layers), a weight mask's `torch.nn.utils.prune` buffers are
folded into the weights (`prune.remove`: zeros where the mask drops a connection, plain
parameters). Every format reads flat features [batch, features] as the datasets hold them and
returns logits [batch, classes]; the batch dimension is dynamic.

- `.onnx`: ONNX opset `OPSET` (17), input `features`, output `logits`; written with PyTorch's
  TorchScript exporter (`torch.onnx.export(..., dynamo=False)`): it needs no onnxscript, takes a
  tenth of a second where the dynamo exporter takes seconds, and exists across the torch versions
  sparsearch supports. It needs the `onnx` package (the `onnx` extra).
- `.safetensors`: the folded module's state dict with `NetworkInfo` as metadata (JSON strings):
  enough for `load_exported` to rebuild the module.
- `.pt2`: `torch.export.export` with a dynamic batch dimension, saved with `torch.export.save`;
  the metadata travels as the extra file `sparsearch.json`.

`onnx_bytes` and `onnx_session` are the in-memory pieces for running a module in onnxruntime
(e.g. to time it there). Files are written atomically: a temporary file in the target folder,
renamed once complete, so a failure leaves no partial file.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import io
import json
import os
import secrets
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils import prune

from .errors import SparsearchError, described
from .extras import install_hint

OPSET = 17
INPUT, OUTPUT = "features", "logits"
SUFFIXES = (".onnx", ".safetensors", ".pt2")
FORMAT = "sparsearch.network/1"
"""The `format` metadata of every exported file; `load_exported` reads this version."""
EXTRA_FILE = "sparsearch.json"
"""A `.pt2` file's extra file holding the metadata (`torch.export.load(..., extra_files=...)`)."""

@dataclass(frozen=True)
class NetworkInfo:
    """What rebuilds and describes an exported network: its trial, parent and shapes."""

    trial_key: str
    parent: dict  # the parent spec (`Parent.spec`; `nets.from_spec` rebuilds the parent kind)
    space: str | None  # "node" (compacted), "weight" (masks folded in)
    arm: str | None
    widths: tuple[int, ...]  # flat input features, the kept nodes of each group, classes
    shapes: dict[str, list[int]]  # each parameter's shape as exported, by its state-dict name
    weights: str = "best"  # "best": at the trial's best validation epoch (its test_acc); "final": after its last

    @property
    def n_features(self) -> int:
        return self.widths[0]

    def to_json(self) -> dict:
        """The info with the format it is written in (`format`), as JSON-ready values."""
        return {"format": FORMAT, **asdict(self)}

    def metadata(self) -> dict[str, str]:
        """`to_json` as string metadata (ONNX metadata_props, safetensors): each value JSON."""
        return {key: json.dumps(value) for key, value in self.to_json().items()}


def folded(module: nn.Module) -> nn.Module:
    """A copy of `module` in eval mode whose `torch.nn.utils.prune` masks are folded into their
    parameters (`prune.remove`): plain tensors, exactly zero where a mask is False."""
    def pruned(network: nn.Module):
        return [(layer, hook._tensor_name) for layer in network.modules()
                for hook in layer._forward_pre_hooks.values() if isinstance(hook, prune.BasePruningMethod)]

    # A pruned tensor (weight_orig * weight_mask) is no graph leaf, which deepcopy refuses: copy it
    # detached; prune.remove recomputes it from the copied weight_orig and weight_mask anyway.
    memo = {id(t): t.detach().clone() for t in (getattr(layer, name) for layer, name in pruned(module))}
    module = copy.deepcopy(module, memo)
    for layer, name in pruned(module):
        prune.remove(layer, name)
    return module.eval().requires_grad_(False)


def check_destination(path: str | Path) -> Path:
    """`path` if a network can be written there (a known suffix, an existing folder, the
    packages its format needs); else a one-line SparsearchError. Reads nothing else."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise SparsearchError(f"cannot export to {str(path)!r}: unknown suffix {path.suffix!r}; pass a path ending "
                              f"in {', '.join(SUFFIXES)} (ONNX, a safetensors state dict, torch.export)")
    folder = path.parent
    if not folder.is_dir():
        raise SparsearchError(f"cannot export to {str(path)!r}: folder {str(folder)!r} does not exist; create it or "
                              f"pass another path")
    if path.is_dir():
        raise SparsearchError(f"cannot export to {str(path)!r}: it is a folder; pass a file path")
    if path.suffix == ".onnx":
        require("onnx", "exporting ONNX")
    return path


def write_network(module: nn.Module, path: str | Path, info: NetworkInfo) -> Path:
    """Write `module` (masks folded in) to `path` in the format its suffix names; return the path."""
    path = check_destination(path)
    if path.suffix == ".onnx":
        data = onnx_bytes(module, info.n_features, metadata=info.metadata())
    elif path.suffix == ".pt2":
        data = pt2_bytes(module, info.n_features, extra=info.to_json())
    else:
        data = safetensors_bytes(module, info.metadata())
    _write_atomically(path, data)
    return path


def onnx_bytes(module: nn.Module, n_features: int, *, metadata: dict[str, str] | None = None,
               opset: int = OPSET) -> bytes:
    """`module` (masks folded in, eval mode) as a serialized ONNX model of opset `opset`: input
    `features` [batch, n_features], output `logits` [batch, classes], the batch dimension dynamic;
    `metadata` becomes the model's metadata_props. What onnxruntime's `InferenceSession` takes
    (`onnx_session` builds one); needs `onnx` (the `onnx` extra)."""
    onnx = require("onnx", "exporting ONNX")
    network = folded(module)
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():  # the TorchScript exporter's deprecation and constant-folding notes
            warnings.simplefilter("ignore")
            torch.onnx.export(network, (_example(network, n_features),), buffer, opset_version=opset,
                              input_names=[INPUT], output_names=[OUTPUT],
                              dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}}, **_torchscript())
    except Exception as error:  # a user's module the tracer cannot follow
        raise SparsearchError(f"cannot export the network as ONNX: {described(error)}; try .safetensors") from None
    model = onnx.load_from_string(buffer.getvalue())
    for key, value in (metadata or {}).items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def onnx_session(module: nn.Module, n_features: int, threads: int | None = None):
    """An onnxruntime `InferenceSession` (CPU) running `module` as `onnx_bytes` exports it; feed it
    `{"features": x}` with x a float32 array [batch, n_features]. `threads` sets its intra-op
    threads (onnxruntime's default if None). Needs onnxruntime (the `onnx` extra)."""
    ort = require("onnxruntime", "running a network in onnxruntime")
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(onnx_bytes(module, n_features), options, providers=["CPUExecutionProvider"])


def pt2_bytes(module: nn.Module, n_features: int, *, extra: dict | None = None) -> bytes:
    """`module` (masks folded in, eval mode) through `torch.export.export` with a dynamic batch
    dimension, as the bytes `torch.export.save` writes; `extra` as the JSON extra file `sparsearch.json`."""
    network = folded(module)
    try:
        program = torch.export.export(network, (_example(network, n_features),),
                                      dynamic_shapes=({0: torch.export.Dim("batch")},))
    except Exception as error:  # a user's module torch.export cannot capture
        raise SparsearchError(f"cannot export the network with torch.export: {described(error)}; "
                              f"try .onnx or .safetensors") from None
    buffer = io.BytesIO()
    torch.export.save(program, buffer, extra_files={EXTRA_FILE: json.dumps(extra or {})})
    return buffer.getvalue()


def safetensors_bytes(module: nn.Module, metadata: dict[str, str]) -> bytes:
    """The state dict of `module` with its masks folded in, as safetensors bytes with `metadata`."""
    from safetensors.torch import save

    state = {name: t.detach().clone().contiguous() for name, t in folded(module).state_dict().items()}
    return save(state, metadata=metadata)


def load_exported(path: str | Path) -> nn.Module:
    """The network a `.safetensors` file of `export_model` holds, rebuilt as an `nn.Module` in eval
    mode (its parent kind must be known: a user's registered with `register_parent` first)."""
    from safetensors import safe_open

    from .nets import from_spec

    path = Path(path)
    if path.suffix != ".safetensors":
        raise SparsearchError(f"load_exported reads .safetensors files, got {str(path)!r}; run .onnx with "
                              f"onnxruntime.InferenceSession and load .pt2 with torch.export.load")
    try:
        with safe_open(str(path), framework="pt") as file:
            metadata = file.metadata() or {}
            state = {name: file.get_tensor(name) for name in file.keys()}
    except Exception as error:  # missing, unreadable or not safetensors
        raise SparsearchError(f"cannot read {str(path)!r}: {described(error)}") from None
    if metadata.get("format") != json.dumps(FORMAT):
        raise SparsearchError(f"{str(path)!r} is not a network written by export_model (metadata format "
                              f"{metadata.get('format')!r}, expected {json.dumps(FORMAT)!r})")
    parent = from_spec(json.loads(metadata["parent"]))
    module = parent.module(parent.from_state_dict(state))
    module.load_state_dict(state)
    return module.eval()


def _torchscript() -> dict:
    """`torch.onnx.export`'s arguments that pick the TorchScript exporter: the only one before
    torch 2.5 (no `dynamo` argument), opt-in since."""
    return {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}


def _example(module: nn.Module, n_features: int) -> torch.Tensor:
    """An input of batch 2 (torch.export specializes batches of 0 and 1) in the module's dtype."""
    parameter = next(module.parameters(), None)
    return torch.zeros(2, n_features, dtype=parameter.dtype if parameter is not None else torch.float32)


def require(package: str, what: str):
    """Import optional `package`, or a one-line SparsearchError naming `what` needs it and how to install it."""
    try:
        return importlib.import_module(package)
    except ImportError:
        raise SparsearchError(f"{what} needs {package}, which is not installed: {install_hint('onnx')}") from None


def _write_atomically(path: Path, data: bytes) -> None:
    """`data` into `path` through a temporary file in its folder (created with the usual
    permissions), renamed when complete; on any failure the temporary file is removed."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as error:
        raise SparsearchError(f"cannot write {str(path)!r}: {error.strerror}; pass another path") from None
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise SparsearchError(f"cannot write {str(path)!r}: {error.strerror or error}; free some space or "
                                  f"pass another path") from None
        raise
