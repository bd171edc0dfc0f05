"""Start-up (issue 28, item 1): commands that only read a store load no torch, scipy, matplotlib,
pandas or scikit-learn, `import sparsearch` loads them on first use, and a run sets
deterministic algorithms without importing torch's compiler stack. Each check runs in a fresh
interpreter, so what earlier tests imported does not count."""

import json
import shutil
import subprocess
import sys

import pytest

HEAVY = ("torch", "scipy", "matplotlib", "pandas", "sklearn")


def _loaded_after(code: str, cwd, modules=(*HEAVY, "torch._inductor")) -> dict:
    """Run `code` in a fresh interpreter; which of `modules` it left loaded."""
    probe = (f"{code}\nimport json, sys\nprint(json.dumps({{m: m in sys.modules for m in "
             f"{list(modules)!r}}}))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _cli(args: list[str]) -> str:
    return ("import sys\nfrom sparsearch.cli import app\nsys.argv = ['sparsearch', *%r]\n"
            "try:\n    app()\nexcept SystemExit as exit:\n    assert exit.code in (0, None), exit.code\n" % (args,))


@pytest.mark.parametrize("args", [["--version"], ["ls", "--store", "s.db"], ["export", "--store", "s.db"],
                                  ["export", "--store", "s.db", "--format", "json"],
                                  ["rm", "tiny", "--store", "s.db", "--yes"]], ids=" ".join)
def test_commands_that_read_a_store_load_nothing_heavy(args, tmp_path, finished_store):
    shutil.copy(finished_store, tmp_path / "s.db")
    loaded = _loaded_after(_cli(args), tmp_path)
    assert not any(loaded[m] for m in HEAVY), loaded


def test_import_sparsearch_loads_its_names_when_first_used(tmp_path):
    assert not any(_loaded_after("import sparsearch", tmp_path)[m] for m in HEAVY)
    loaded = _loaded_after("import sparsearch\nassert sparsearch.Study.__name__ == 'Study'", tmp_path)
    assert loaded["torch"] is False  # the Study class itself reads stores
    assert _loaded_after("import sparsearch\nsparsearch.run", tmp_path)["torch"] is True
    import sparsearch

    assert {"run", "Study", "Store", "register_arm", "load_dataset"} <= set(dir(sparsearch))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        sparsearch.nope


def test_a_run_sets_determinism_without_the_compiler_stack(tmp_path):
    code = ("import torch\nfrom sparsearch.engine.executor import torch_settings\n"
            "before = torch.are_deterministic_algorithms_enabled()\n"
            "with torch_settings(1):\n    assert torch.are_deterministic_algorithms_enabled()\n"
            "assert torch.are_deterministic_algorithms_enabled() == before\n")
    assert _loaded_after(code, tmp_path)["torch._inductor"] is False
    code_inductor = ("import torch, torch._inductor.config as c\nfrom sparsearch.engine.executor import torch_settings\n"
                     "with torch_settings(1):\n    assert torch.are_deterministic_algorithms_enabled() and c.deterministic\n"
                     "assert not c.deterministic\n")
    assert _loaded_after(code_inductor, tmp_path)["torch._inductor"] is True


def test_a_run_with_nothing_to_compare_loads_no_scipy_stats_pandas_scikit_learn_or_matplotlib(tmp_path):
    """One arm on digits: the data is read without scikit-learn (and pandas), and scipy.stats
    loads only where a comparison or a probe audit is computed."""
    (tmp_path / "c.toml").write_text(
        '[experiment]\nname = "one"\nseeds = 2\n[data]\nname = "digits"\n[parent]\nhidden = [8]\n'
        '[train]\nepochs = 1\n[search]\nsparsities = [0.5]\narms = ["random"]\n')
    loaded = _loaded_after(_cli(["run", "c.toml", "--store", "s.db"]), tmp_path,
                           ("torch", "scipy.stats", "pandas", "sklearn", "matplotlib"))
    assert loaded == {"torch": True, "scipy.stats": False, "pandas": False, "sklearn": False, "matplotlib": False}
