"""Shared by file datasets: find them under `data.root` (downloading when allowed), check labels, scale pixels."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..config import DataConfig
from ..errors import SparsearchError
from ..reading import present


def locate(
    cfg: DataConfig, title: str, folder: str, names: Sequence[str], fetch: Callable[[Path], None], gz: bool = False
) -> list[Path]:
    """Paths of `names` in `<data.root>/<folder>` (each also accepted gzipped if `gz`), in order.

    Only when a file is missing and `data.download` is true is `fetch(root)` called.
    """
    if cfg.root is None:
        raise SparsearchError(
            f"data.root: {cfg.name} is read from files; set data.root to their folder "
            f"(and data.download = true to fetch them there)"
        )
    root = Path(cfg.root).expanduser()
    suffixes = ("", ".gz") if gz else ("",)
    found, missing = _find(root / folder, names, suffixes)
    if missing is not None and cfg.download:
        fetch(root)
        found, missing = _find(root / folder, names, suffixes)
    if missing is not None:
        expected = f"{missing}[.gz]" if gz else str(missing)
        advice = (
            "the download did not produce it; check data.root"
            if cfg.download
            else "set data.root to the folder that holds them or set data.download = true"
        )
        raise SparsearchError(f"data.root: no {title} files in {root} (expected {expected}); {advice}")
    return found


def _find(folder: Path, names: Sequence[str], suffixes: Sequence[str]) -> tuple[list[Path], Path | None]:
    """(paths found, first missing path or None); what is found may be anything but a file, for
    the reader to refuse by name."""
    found = []
    for name in names:
        path = next((folder / (name + s) for s in suffixes if present(folder / (name + s), "data.root")), None)
        if path is None:
            return found, folder / name
        found.append(path)
    return found, None


def checked_labels(labels: np.ndarray, path: Path) -> np.ndarray:
    """`labels` as int64, after checking they are class ids 0-9."""
    if labels.size and labels.max() > 9:
        raise SparsearchError(
            f"data.root: {path} has label {labels.max()}, expected 0-9; replace it with the original file"
        )
    return labels.astype(np.int64)


def unit_pixels(pixels: np.ndarray) -> np.ndarray:
    """Unsigned-byte pixels [n, ...] as float32 [n, features] in [0, 1]."""
    return np.multiply(pixels.reshape(len(pixels), -1), 1 / 255, dtype=np.float32)
