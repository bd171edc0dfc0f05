"""Persistence of experiments and trials."""

from .schema import record_key
from .sqlite import FAILURE_COLUMNS, STORED_COLUMNS, PlanLink, Store, TrialRecord, TrialWeights

__all__ = ["FAILURE_COLUMNS", "STORED_COLUMNS", "PlanLink", "Store", "TrialRecord", "TrialWeights", "record_key"]
