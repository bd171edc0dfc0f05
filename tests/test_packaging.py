"""The built wheel carries the license, the project metadata and `py.typed` (PEP 561)."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def test_license_is_mit_for_sparsearch_developers():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n") and "Copyright (c) 2026 sparsearch developers" in text


def test_the_wheel_has_license_metadata_and_py_typed(tmp_path):
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"setuptools {setuptools.__version__} predates SPDX licenses (pyproject asks for >= 77)")
    tree = tmp_path / "tree"
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tree / name)
    shutil.copytree(ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-index",
                            "-w", str(tmp_path / "dist"), str(tree)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("sparsearch-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(info).decode()
    assert "sparsearch/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    lines = metadata.splitlines()
    assert "License-Expression: MIT" in lines and "Author: sparsearch developers" in lines
    assert "Classifier: Typing :: Typed" in lines and "Classifier: Operating System :: POSIX" in lines
    assert "Project-URL: Documentation, docs/api.md" in lines
