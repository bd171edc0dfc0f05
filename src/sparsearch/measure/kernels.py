"""The ways one trained network can run at inference, each honest about what it computes.

A node-sparse network runs compacted: the thinner dense network (`compact`). A weight-sparse one
runs with its mask folded into dense weights (`masked`), with every Linear and convolution as a
CSR sparse matrix (`csr`, `torch.sparse`; a convolution as im2col, `F.unfold`, times the sparse
kernel matrix) and, on CUDA, with 2:4 semi-structured weights where every Linear weight keeps at
most 2 of each 4 consecutive inputs (`2:4`, `torch.sparse.to_sparse_semi_structured`; Mishra et
al. 2021, "Accelerating Sparse Deep Neural Networks"). A kernel that cannot run here is left
out, never claimed."""

from __future__ import annotations

import copy
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..model_export import folded

COMPACT, MASKED, CSR, SEMI_STRUCTURED = "compact", "masked", "csr", "2:4"


class CsrLinear(nn.Module):
    """`nn.Linear` with its weight as a CSR sparse matrix."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.register_buffer("weight", linear.weight.detach().to_sparse_csr())
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().clone())

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)


class CsrConv(nn.Module):
    """`nn.Conv1d`/`nn.Conv2d` (one group, zero padding) as im2col times its kernel matrix
    [out, in * kernel] held as a CSR sparse matrix."""

    def __init__(self, conv: nn.Conv1d | nn.Conv2d):
        super().__init__()
        self.one_dimensional = isinstance(conv, nn.Conv1d)
        lift = (lambda v: (1, *v)) if self.one_dimensional else (lambda v: tuple(v))
        self.kernel, self.stride = lift(conv.kernel_size), lift(conv.stride)
        self.padding, self.dilation = (0, *conv.padding) if self.one_dimensional else conv.padding, lift(conv.dilation)
        self.out_channels = conv.out_channels
        self.register_buffer("weight", conv.weight.detach().reshape(conv.out_channels, -1).to_sparse_csr())
        self.register_buffer("bias", None if conv.bias is None else conv.bias.detach().clone())

    def forward(self, x: Tensor) -> Tensor:
        image = x.unsqueeze(2) if self.one_dimensional else x
        batch, _, height, width = image.shape
        columns = F.unfold(image, self.kernel, self.dilation, self.padding, self.stride)  # [B, in * kernel, L]
        out = torch.sparse.mm(self.weight, columns.transpose(0, 1).reshape(columns.shape[1], -1))  # [out, B * L]
        if self.bias is not None:
            out = out + self.bias[:, None]
        size = [(n + 2 * p - d * (k - 1) - 1) // s + 1 for n, p, d, k, s in
                zip((height, width), self.padding, self.dilation, self.kernel, self.stride)]
        out = out.reshape(self.out_channels, batch, *size).transpose(0, 1)
        return out.squeeze(2) if self.one_dimensional else out


def _replaced(module: nn.Module, convert) -> tuple[nn.Module, int]:
    """A copy of `module` with every submodule `convert` returns a replacement for replaced;
    how many were."""
    module = copy.deepcopy(module)
    count = 0
    for name, layer in list(module.named_modules()):
        replacement = convert(layer)
        if replacement is not None and name:
            owner, _, attribute = name.rpartition(".")
            setattr(module.get_submodule(owner), attribute, replacement)
            count += 1
    return module, count


def _to_csr(layer: nn.Module) -> nn.Module | None:
    if type(layer) is nn.Linear:
        return CsrLinear(layer)
    if type(layer) in (nn.Conv1d, nn.Conv2d) and layer.groups == 1 and layer.padding_mode == "zeros" \
            and not isinstance(layer.padding, str):
        return CsrConv(layer)
    return None


def csr(module: nn.Module) -> nn.Module:
    """`module` (folded) with every Linear and ungrouped zero-padded Conv1d/Conv2d in CSR."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")
        return _replaced(module, _to_csr)[0]


def keeps_two_of_four(weight: Tensor) -> bool:
    """Whether a Linear weight [out, in] keeps at most 2 nonzeros in each 4 consecutive inputs."""
    if weight.dim() != 2 or weight.shape[1] % 4:
        return False
    return bool(((weight.reshape(weight.shape[0], -1, 4) != 0).sum(-1) <= 2).all())


def semi_structured(module: nn.Module) -> nn.Module | None:
    """`module` (folded, on CUDA) with every Linear weight as 2:4 semi-structured, or None where
    a Linear weight is not 2:4 or the kernel refuses its shape or dtype."""
    def convert(layer: nn.Module) -> nn.Module | None:
        if type(layer) is not nn.Linear:
            return None
        if not keeps_two_of_four(layer.weight):
            raise ValueError("not 2:4")
        linear = copy.deepcopy(layer)
        linear.weight = nn.Parameter(torch.sparse.to_sparse_semi_structured(linear.weight.detach()),
                                     requires_grad=False)
        return linear

    try:
        converted, count = _replaced(module, convert)
    except (ValueError, RuntimeError, NotImplementedError):
        return None
    return converted if count else None


def inference_modules(module: nn.Module, space: str, device: str) -> dict[str, nn.Module]:
    """Kernel name -> the trial's network ready to time on `device`: the compacted network in the
    node space; masked dense, CSR and (on CUDA, where the mask allows) 2:4 in the weight space."""
    dense = folded(module).to(device)
    if space == "node":
        return {COMPACT: dense}
    ways = {MASKED: dense, CSR: csr(dense)}
    if device == "cuda":
        two_four = semi_structured(dense)
        if two_four is not None:
            ways[SEMI_STRUCTURED] = two_four
    return ways
