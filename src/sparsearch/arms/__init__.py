"""Arm registry: a new arm is one file plus one line here."""

from .base import Arm, MaskRequest, TrialPlan
from .dense import Dense
from .gmp import Gmp
from .grasp import Grasp
from .lottery import Lottery
from .lottery_random import LotteryRandom
from .lottery_reinit import LotteryReinit
from .magnitude import Magnitude
from .random import Random
from .random_search import RandomSearch
from .shuffle import Shuffle
from .snip import Snip
from .synflow import Synflow

ARMS: dict[str, Arm] = {
    arm.name: arm
    for arm in (
        Dense(), Random(), RandomSearch(), Magnitude(), Lottery(), LotteryReinit(), LotteryRandom(), Gmp(),
        Snip(), Grasp(), Synflow(), Shuffle(),
    )
}

__all__ = ["ARMS", "Arm", "MaskRequest", "TrialPlan"]
