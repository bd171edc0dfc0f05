"""Persistence of experiments and trials."""

from .sqlite import EXPORT_COLUMNS, PlanLink, Store, TrialRecord

__all__ = ["EXPORT_COLUMNS", "PlanLink", "Store", "TrialRecord"]
