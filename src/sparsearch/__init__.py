"""sparsearch: search, train and benchmark sparse sub-networks of over-parameterized networks.

    import sparsearch
    study = sparsearch.run("examples/digits-weight-baselines.toml", store="sparsearch.db")
    study.trials()          # one row per trained network (pandas)
    study.compare()         # paired statistics (pandas)

See docs/api.md.
"""

__version__ = "0.2.0"

import os
from importlib import import_module

os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
"""MKL's strict reproducibility mode (read before its first computation in the process, so set
before anything here imports torch): without it MKL's small GEMMs round by the memory alignment
of their operands on some CPUs (seen on AMD EPYC), so a network's numbers would depend on its
place in a population. docs/design.md, "Engine principles"."""

_PUBLIC = {
    "run": "api", "Arm": "arms", "ArmRequest": "arms", "TrialPlan": "arms", "register_arm": "arms",
    "PerSeedArm": "arms.base", "at_init": "arms.base", "Config": "config", "Dataset": "data",
    "load_dataset": "data", "register_dataset": "data", "SparsearchError": "errors", "ExperimentKind": "kinds",
    "register_kind": "kinds", "register_parent": "nets", "Progress": "progress", "Store": "store", "Study": "study",
    "export_model": "study", "load_network": "study", "LoggedTrial": "tracking", "Logger": "tracking",
    "register_logger": "tracking",
}
"""Each public name and the module that defines it: imported when first used (PEP 562), so a
command that only reads a store never pays for torch, scipy or pandas."""


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'sparsearch' has no attribute {name!r}")
    value = getattr(import_module(f".{_PUBLIC[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])


__all__ = [
    "Arm", "ArmRequest", "Config", "Dataset", "ExperimentKind", "LoggedTrial", "Logger", "PerSeedArm", "Progress",
    "SparsearchError", "Store", "Study", "TrialPlan", "at_init", "export_model", "load_dataset", "load_network",
    "register_arm", "register_dataset", "register_kind", "register_logger", "register_parent", "run",
]
