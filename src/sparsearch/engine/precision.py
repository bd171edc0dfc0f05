"""The engine's arithmetic precision: fp32, or bf16 mixed precision in the usual sense (fp32
master weights and optimizer state, bf16 matrix products and activations, the loss in fp32;
Micikevicius et al. 2018, "Mixed Precision Training", with bfloat16 in place of fp16 so no
loss scaling is needed: Kalamkar et al. 2019, "A Study of BFLOAT16 for Deep Learning Training").

bf16 only pays where the CPU multiplies bf16 matrices natively: Intel AMX (`amx_bf16`) or
AVX512-BF16. Elsewhere oneDNN emulates it and a bf16 run is slower than fp32."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

Precision = Literal["fp32", "bf16"]
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def dtype_of(precision: Precision) -> torch.dtype:
    return DTYPES[precision]


def bf16_path() -> str:
    """The CPU's native bf16 matrix path: "AMX", "AVX512-BF16" or "none"."""
    cpu = torch.cpu
    if getattr(cpu, "_is_amx_tile_supported", lambda: False)():
        return "AMX"
    if getattr(cpu, "_is_avx512_bf16_supported", lambda: False)():
        return "AVX512-BF16"
    return "none"


class SlowPrecisionWarning(UserWarning):
    """bf16 asked for where it runs slower than fp32."""


def slow_bf16_note(precision: Precision, device: str = "cpu") -> str | None:
    """One line when bf16 was asked for on a CPU that would run it slower than fp32."""
    if precision == "bf16" and device == "cpu" and bf16_path() == "none":
        return ("precision = \"bf16\": this CPU has neither AMX nor AVX512-BF16, so bf16 is emulated and "
                "slower than fp32 here; set [engine] precision = \"fp32\" for speed")
    return None


def lowered(tensors, dtype: torch.dtype):
    """The tensors of nested lists/tuples cast to `dtype` (differentiably: gradients reach the
    fp32 masters); the same objects when `dtype` is fp32."""
    if dtype == torch.float32:
        return tensors
    if isinstance(tensors, Tensor):
        return tensors.to(dtype)
    return type(tensors)(lowered(t, dtype) for t in tensors)
