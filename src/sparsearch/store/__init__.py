"""Persistence of experiments and trials."""

from .sqlite import AUDIT_COLUMNS, FAILURE_COLUMNS, STORED_COLUMNS, PlanLink, Store, TrialRecord

__all__ = ["AUDIT_COLUMNS", "FAILURE_COLUMNS", "STORED_COLUMNS", "PlanLink", "Store", "TrialRecord"]
