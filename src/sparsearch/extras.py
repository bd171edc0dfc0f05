"""How to add an optional extra (ray, onnx, torchvision), worded for how sparsearch itself was
installed: what pip recorded in the installation's `direct_url.json` (PEP 610) tells an editable
clone, a local folder and a VCS URL from a package index."""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from urllib.parse import unquote, urlparse


def install_hint(extra: str) -> str:
    """The pip command that adds `extra` to this installation of sparsearch."""
    return hint_for(extra, installed_from())


def hint_for(extra: str, origin: dict | None) -> str:
    """The pip command for `extra`, given `origin` (a direct_url.json; None: a package index)."""
    origin = origin or {}
    url = origin.get("url", "")
    if "dir_info" in origin:
        path = unquote(urlparse(url).path)
        if origin["dir_info"].get("editable"):
            return f"pip install -e '.[{extra}]' (in {path})"
        return f"pip install '{path}[{extra}]'"
    if "vcs_info" in origin:
        return f"pip install 'sparsearch[{extra}] @ {origin['vcs_info'].get('vcs', 'git')}+{url}'"
    return f"pip install 'sparsearch[{extra}]'"


def installed_from() -> dict | None:
    """The installation's direct_url.json; for a source tree run without installing (its folder
    on PYTHONPATH), that tree as an editable folder; None for an install from an index."""
    try:
        text = distribution("sparsearch").read_text("direct_url.json")
    except PackageNotFoundError:
        root = Path(__file__).resolve().parents[2]  # src/sparsearch/extras.py -> the clone
        return {"url": root.as_uri(), "dir_info": {"editable": True}} if (root / "pyproject.toml").is_file() else None
    try:
        return json.loads(text) if text else None
    except ValueError:  # a damaged record: say the plain command
        return None
