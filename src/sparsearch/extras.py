"""How to add an optional extra (ray, onnx, torchvision), worded for how sparsearch itself was
installed: what pip recorded in the installation's `direct_url.json` (PEP 610) tells an editable
clone, a local folder and a VCS URL from a package index."""

from __future__ import annotations

import json
from importlib.metadata import distributions
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
    """The installation's direct_url.json (of the first `sparsearch` distribution on the path that
    has one); for a source tree without one (run from its folder on PYTHONPATH, where the
    `sparsearch.egg-info` an editable install builds there may shadow the installed record),
    that tree as an editable folder; None for an install from an index."""
    for found in distributions(name="sparsearch"):
        text = found.read_text("direct_url.json")
        if text:
            try:
                return json.loads(text)
            except ValueError:  # a damaged record: say the plain command
                return None
    root = source_tree()
    return None if root is None else {"url": root.as_uri(), "dir_info": {"editable": True}}


def source_tree() -> Path | None:
    """The clone this module runs from (src/sparsearch/extras.py -> the folder with pyproject.toml), if it does."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() else None
