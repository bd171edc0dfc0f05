"""sparsearch: search, train and benchmark sparse sub-networks of over-parameterized networks.

    import sparsearch
    study = sparsearch.run("examples/digits-weight-baselines.toml", store="sparsearch.db")
    study.trials()          # one row per trained network (pandas)
    study.compare()         # paired statistics (pandas)

See docs/api.md.
"""

__version__ = "0.2.0"

from .api import run
from .arms import Arm, ArmRequest, TrialPlan, register_arm
from .arms.base import PerSeedArm, at_init
from .config import Config
from .data import Dataset, load_dataset, register_dataset
from .errors import SparsearchError
from .kinds import ExperimentKind, register_kind
from .nets import register_parent
from .progress import Progress
from .store import Store
from .study import Study, export_model, load_network
from .tracking import LoggedTrial, Logger, register_logger

__all__ = [
    "Arm", "ArmRequest", "Config", "Dataset", "ExperimentKind", "LoggedTrial", "Logger", "PerSeedArm", "Progress",
    "SparsearchError", "Store", "Study", "TrialPlan", "at_init", "export_model", "load_dataset", "load_network",
    "register_arm", "register_dataset", "register_kind", "register_logger", "register_parent", "run",
]
