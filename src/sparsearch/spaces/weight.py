"""The weight space: a mask keeps individual connections of the parent's weight matrices
(unstructured sparsity). Biases are never pruned. A masked network keeps the parent's shapes;
the mask multiplies the weights in the forward pass and keeps pruned weights at zero.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True, eq=False)
class WeightMask:
    """One bool tensor per layer, shaped like its weight (an MLP's [in, out], a convolution's
    [out, in, *kernel]); True = kept."""

    layers: tuple[Tensor, ...]

    def to_json(self) -> dict:
        """Packed bits, base64, per layer: compact and exact."""
        return {
            "space": "weight",
            "layers": [
                {"shape": list(m.shape), "bits": base64.b64encode(np.packbits(m.numpy().ravel())).decode()}
                for m in self.layers
            ],
        }

    @classmethod
    def from_json(cls, data: dict) -> "WeightMask":
        layers = []
        for layer in data["layers"]:
            count = int(np.prod(layer["shape"]))
            bits = np.unpackbits(np.frombuffer(base64.b64decode(layer["bits"]), dtype=np.uint8))[:count]
            layers.append(torch.from_numpy(bits.astype(bool).reshape(layer["shape"])))
        return cls(tuple(layers))

    def digest(self) -> str:
        """SHA-256 of the mask's bits: what the trial key records."""
        h = hashlib.sha256()
        for m in self.layers:
            h.update(repr(tuple(m.shape)).encode())
            h.update(np.packbits(m.numpy().ravel()).tobytes())
        return h.hexdigest()

    def kept(self) -> list[int]:
        return [int(m.sum()) for m in self.layers]

    def shape_key(self) -> tuple:
        """Weight masks keep the parent's shapes: every weight-space trial shares one population."""
        return ("weight", *(tuple(m.shape) for m in self.layers))


def full_weight_mask(shapes: tuple[tuple[int, ...], ...]) -> WeightMask:
    """The mask that keeps every weight of layers whose weights have these `shapes`."""
    return WeightMask(tuple(torch.ones(shape, dtype=torch.bool) for shape in shapes))
