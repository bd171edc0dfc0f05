"""Where and with what the report was made: versions, platform, CPUs, GPUs, date."""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version

PACKAGES = ("sparsearch", "torch", "numpy", "scipy", "matplotlib")


def environment() -> dict[str, str]:
    """Name -> value, in display order."""
    return {
        "python": platform.python_version(),
        **{name: _version(name) for name in PACKAGES},
        "platform": platform.platform(),
        "CPU count": str(os.cpu_count()),
        "GPU": _gpu(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def _gpu() -> str:
    """The CUDA GPU (or Apple MPS) `[engine] device = "auto"` would use here, or "none"."""
    import torch

    if torch.cuda.is_available():
        return f"CUDA: {torch.cuda.get_device_name(0)} (of {torch.cuda.device_count()})"
    mps = getattr(torch.backends, "mps", None)
    return "MPS" if mps is not None and mps.is_available() else "none"
