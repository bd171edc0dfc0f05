"""Where and with what the report was made: versions, platform, CPUs, date."""

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
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"
