"""Structured weight-mask patterns: N:M and blocks, and which weights of a group win.

A pattern groups each layer's weights along its rows: the row of output o holds o's incoming
weights, `in x kernel` flattened row-major for a convolution's [out, in, *kernel] weight, the
column o of an MLP's [in, out] weight (`layout = "in_out"`).

- N:M ("2:4"): in every M consecutive weights of a row the N of highest score are kept, so
  every layer is N/M dense whatever the allocation (Mishra et al. 2021, "Accelerating Sparse
  Deep Neural Networks"; Zhou et al. 2021, "Learning N:M Fine-grained Structured Sparse Neural
  Networks From Scratch"). A row whose length is not a multiple of M ends in a partial group of
  r < M weights that keeps min(N, r): the row as if padded to a multiple of M with weights that
  never win, as sparse kernels pad it.
- blockRxC ("block4x4"): R consecutive rows x C consecutive columns of the [out, row] view form
  a block, kept or removed whole; a block's score is the mean of its weights' scores, so the
  smaller blocks at the right and bottom edges compete on equal terms (Gray, Radford & Kingma
  2017, "GPU Kernels for Block-Sparse Weights"; Narang et al. 2017, "Block-Sparse Recurrent
  Neural Networks").

Scores rank as in `allocation._keep_top`: NaN counts as -inf, equal scores keep the lower
index (in a group, the earlier weight; among blocks, the earlier block row-major). How many
weights or blocks a layer keeps is `allocation.mask_from_scores`'s business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import SparsearchError

UNSTRUCTURED = "unstructured"
LAYOUTS = ("out_in", "in_out")
TOLERANCE = 1e-6
"""How close a sparsity must be to 1 - N/M to be N:M's own (1:3 is 0.666667 written to 6 places)."""

ALLOWED = ('"unstructured", "N:M" with 1 <= N < M (e.g. "2:4") or "blockRxC" with R, C >= 1 (e.g. "block4x4")')
_NM = re.compile(r"([0-9]+):([0-9]+)")
_BLOCK = re.compile(r"block([0-9]+)x([0-9]+)")


@dataclass(frozen=True)
class NM:
    """N of every M consecutive weights of a row are kept: "N:M"."""

    n: int
    m: int

    @property
    def sparsity(self) -> float:
        """The only weight sparsity the pattern has: 1 - N/M."""
        return (self.m - self.n) / self.m

    def matches(self, sparsity: float) -> bool:
        return abs(sparsity - self.sparsity) <= TOLERANCE

    def __str__(self) -> str:
        return f"{self.n}:{self.m}"


@dataclass(frozen=True)
class Block:
    """Blocks of `rows` outputs x `cols` consecutive inputs, kept or removed whole: "blockRxC"."""

    rows: int  # R
    cols: int  # C

    def __str__(self) -> str:
        return f"block{self.rows}x{self.cols}"


Pattern = NM | Block


def parse_pattern(value: str | Pattern | None) -> Pattern | None:
    """The pattern `value` names; None for unset or "unstructured"; SparsearchError (a ValueError)
    quoting anything else."""
    if value is None or isinstance(value, (NM, Block)):
        return value
    if isinstance(value, str):
        if value == UNSTRUCTURED:
            return None
        if nm := _NM.fullmatch(value):
            n, m = int(nm[1]), int(nm[2])
            if 1 <= n < m:
                return NM(n, m)
        elif block := _BLOCK.fullmatch(value):
            rows, cols = int(block[1]), int(block[2])
            if rows >= 1 and cols >= 1:
                return Block(rows, cols)
    raise SparsearchError(f"must be {ALLOWED}, got {value!r}")


def check_layout(layout: str) -> str:
    if layout not in LAYOUTS:
        raise SparsearchError(f"weight layout must be one of: {', '.join(LAYOUTS)}, got {layout!r}")
    return layout


def rows_view(tensor: Tensor, layout: str) -> Tensor:
    """A layer's scores or mask as [out, row]: each output's incoming weights in one row."""
    flat = tensor.reshape(tensor.shape[0], -1)
    return flat.T if check_layout(layout) == "in_out" else flat


def from_rows(view: Tensor, shape: tuple[int, ...], layout: str) -> Tensor:
    """`rows_view`'s inverse: the [out, row] view back at the layer's shape."""
    return (view.T if check_layout(layout) == "in_out" else view).reshape(shape)


def ranking_key(scores: Tensor) -> Tensor:
    """Scores as float64 with NaN at -inf: what is ranked."""
    scores = scores.detach().to(torch.float64)
    return torch.where(torch.isnan(scores), torch.full_like(scores, float("-inf")), scores)


def _top_of_each(key: Tensor, n: int) -> Tensor:
    """Bool mask keeping the n highest along the last dim (all when it is shorter); ties: lower index."""
    order = torch.sort(key, dim=-1, descending=True, stable=True).indices[..., :n]
    return torch.zeros_like(key, dtype=torch.bool).scatter_(-1, order, True)


def n_of_m(key: Tensor, pattern: NM) -> Tensor:
    """Bool mask over an [out, row] `key` keeping the N best of every M consecutive weights of
    each row; a trailing partial group of r < M keeps min(N, r)."""
    out, length = key.shape
    full = length - length % pattern.m
    keep = torch.zeros_like(key, dtype=torch.bool)
    keep[:, :full] = _top_of_each(key[:, :full].reshape(out, -1, pattern.m), pattern.n).reshape(out, full)
    keep[:, full:] = _top_of_each(key[:, full:], pattern.n)
    return keep


def _blocked(view: Tensor, pattern: Block, fill) -> Tensor:
    """An [out, row] view padded with `fill` to whole blocks, as [block rows, block cols, R, C]."""
    out, length = view.shape
    rows, cols = -(-out // pattern.rows), -(-length // pattern.cols)
    padded = torch.full((rows * pattern.rows, cols * pattern.cols), fill, dtype=view.dtype, device=view.device)
    padded[:out, :length] = view
    return padded.reshape(rows, pattern.rows, cols, pattern.cols).transpose(1, 2)


def block_scores(key: Tensor, pattern: Block) -> tuple[Tensor, Tensor]:
    """Each block's mean score and its number of weights, both [block rows, block cols], of an
    [out, row] float64 `key`; a block holding both +inf and -inf scores -inf."""
    blocks = _blocked(key, pattern, float("nan"))
    mean = torch.nanmean(blocks, dim=(2, 3))
    sizes = (~torch.isnan(blocks)).sum(dim=(2, 3))
    return torch.where(torch.isnan(mean), torch.full_like(mean, float("-inf")), mean), sizes


def expand_blocks(keep: Tensor, pattern: Block, shape: tuple[int, int]) -> Tensor:
    """A [block rows, block cols] bool keep as the [out, row] mask it stands for."""
    full = keep.repeat_interleave(pattern.rows, 0).repeat_interleave(pattern.cols, 1)
    return full[: shape[0], : shape[1]]


def nearest_prefix(pooled: Tensor, sizes: Tensor, count: int, at_least_one: bool) -> Tensor:
    """Bool mask over flat blocks keeping the best-scored ones (ties: lower index) whose total
    size is nearest `count` (the fewer on a tie). Blocks scoring -inf (pruned before, or NaN)
    are kept only where `at_least_one` needs one; `at_least_one` keeps a block when count >= 1."""
    order = torch.sort(pooled, descending=True, stable=True).indices
    totals = torch.cat([torch.zeros(1, dtype=torch.long, device=order.device), sizes[order].to(torch.long).cumsum(0)])
    low = 1 if at_least_one and count >= 1 and order.numel() else 0
    high = max(low, int((pooled > float("-inf")).sum()))
    chosen = low + int(torch.argmin((totals[low : high + 1] - count).abs()))
    keep = torch.zeros(pooled.numel(), dtype=torch.bool, device=pooled.device)
    keep[order[:chosen]] = True
    return keep


def shuffle_groups(view: Tensor, pattern: Pattern, gen: torch.Generator) -> Tensor:
    """An [out, row] bool mask with the weights of each N:M group permuted at random within the
    group, or the blocks permuted among blocks of the same shape: every group (block) count kept."""
    if isinstance(pattern, NM):
        out, length = view.shape
        full = length - length % pattern.m
        parts = [view[:, :full].reshape(out, -1, pattern.m), view[:, full:].unsqueeze(1)]
        shuffled = [p.gather(-1, torch.rand(p.shape, generator=gen).argsort(-1).to(p.device)) for p in parts]
        return torch.cat([shuffled[0].reshape(out, full), shuffled[1].squeeze(1)], dim=1)
    blocks = _blocked(view, pattern, False)
    rows, cols = blocks.shape[:2]
    edge = ((torch.arange(rows) == rows - 1) & (view.shape[0] % pattern.rows != 0)).unsqueeze(1) * 2 \
        + ((torch.arange(cols) == cols - 1) & (view.shape[1] % pattern.cols != 0)).unsqueeze(0)
    flat = blocks.reshape(rows * cols, pattern.rows, pattern.cols)
    moved = flat.clone()
    for shape in range(4):  # interior, right edge, bottom edge, corner: blocks of one shape swap
        where = torch.nonzero(edge.reshape(-1) == shape).flatten()
        moved[where.to(flat.device)] = flat[where[torch.randperm(where.numel(), generator=gen)].to(flat.device)]
    return moved.reshape(rows, cols, pattern.rows, pattern.cols).transpose(1, 2).reshape(
        rows * pattern.rows, cols * pattern.cols)[: view.shape[0], : view.shape[1]]
