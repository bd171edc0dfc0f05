"""Persistence of experiments and trials."""

from .sqlite import EXPORT_COLUMNS, Store

__all__ = ["EXPORT_COLUMNS", "Store"]
