"""The `pattern` setting of the weight-space arms that rank weights (random, magnitude, gmp,
lottery, snip, grasp, synflow): "unstructured" (the default), "N:M" (e.g. "2:4") or "blockRxC"
(e.g. "block4x4"), pruning/patterns.py. One field and one validator, shared by every such arm;
unset and "unstructured" are the same setting (None), which `Arm.spec` leaves out, so
unstructured trials keep their keys. An N:M arm runs only at its sparsity 1 - N/M, which
`search.sparsities` must list; a pattern applies to the weight space only."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ..config import SearchConfig
from ..errors import SparsearchError
from ..pruning import NM, mask_from_scores, parse_pattern
from ..spaces.weight import WeightMask
from .base import ArmRequest

PATTERN_DESCRIPTION = ('weight space: "unstructured" (default), "N:M" (N kept of every M consecutive weights of a '
                       'row, e.g. "2:4") or "blockRxC" (whole blocks of R outputs x C inputs, e.g. "block4x4")')


def _canonical(value: str | None) -> str | None:
    """The pattern as the key records it: None for unset or "unstructured"; one line quoting anything unknown."""
    pattern = parse_pattern(value)
    return None if pattern is None else str(pattern)


PatternSetting = Annotated[str | None, AfterValidator(_canonical), Field(description=PATTERN_DESCRIPTION)]
"""The `pattern` field of an arm's `Params` (`pattern: PatternSetting = None`)."""


class PatternParams(BaseModel):
    """The settings of an arm whose only setting is its pattern."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    pattern: PatternSetting = None


class Patterned:
    """Mixin of an arm (before `Arm` in its bases) whose `Params` hold a `pattern: PatternSetting`."""

    def sparsities(self, requested: list[float]) -> list[float]:
        """An N:M arm runs only at 1 - N/M, and refuses when `requested` does not list it."""
        pattern = parse_pattern(self.params.pattern)
        if not isinstance(pattern, NM):
            return super().sparsities(requested)
        listed = [s for s in requested if pattern.matches(s)]
        if not listed:
            raise SparsearchError(
                f'arms.{self.name}.pattern: "{pattern}" keeps {pattern.n} of every {pattern.m} weights (sparsity '
                f"{pattern.sparsity:g}), but search.sparsities {list(requested)} does not list {pattern.sparsity:g}")
        return listed

    def check_search(self, search: SearchConfig) -> None:
        if self.params.pattern is not None and search.space == "node":
            raise SparsearchError(f'arms.{self.name}.pattern: "{self.params.pattern}" groups weights, not units; with '
                                  f'search.space = "node" leave it unset (or "unstructured")')
        self.sparsities(search.sparsities)
        super().check_search(search)

    def weight_mask(self, request: ArmRequest, scores: list) -> WeightMask:
        """The mask keeping the best `scores` at the request's sparsity, allocation and this arm's pattern."""
        return WeightMask(tuple(mask_from_scores(scores, request.sparsity, request.allocation, self.params.pattern,
                                                 request.weight_layout)))
