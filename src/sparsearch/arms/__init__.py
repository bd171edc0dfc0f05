"""Arm registry: a new arm is one file plus one line here."""

from .base import Arm, MaskRequest
from .dense import Dense
from .random import Random
from .random_search import RandomSearch

ARMS: dict[str, Arm] = {arm.name: arm for arm in (Dense(), Random(), RandomSearch())}

__all__ = ["ARMS", "Arm", "MaskRequest"]
