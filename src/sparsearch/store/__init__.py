"""Persistence of experiments and trials."""

from .sqlite import AUDIT_COLUMNS, EXPORT_COLUMNS, FAILURE_COLUMNS, PlanLink, Store, TrialRecord

__all__ = ["AUDIT_COLUMNS", "EXPORT_COLUMNS", "FAILURE_COLUMNS", "PlanLink", "Store", "TrialRecord"]
