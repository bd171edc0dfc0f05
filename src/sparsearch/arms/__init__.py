"""Arm registry: a new arm is one file plus one line here; a user's arm is `register_arm(cls)`."""

from __future__ import annotations

from ..config import Config
from ..errors import SparsearchError
from .base import Arm, ArmRequest, TrialPlan, planned_sparsities
from .dense import Dense
from .evolution import Evolution
from .gmp import Gmp
from .grasp import Grasp
from .lottery import Lottery
from .lottery_random import LotteryRandom
from .lottery_reinit import LotteryReinit
from .magnitude import Magnitude
from .oracle import Oracle
from .random import Random
from .random_search import RandomSearch
from .shuffle import Shuffle
from .snip import Snip
from .structured import Fpgm, L1Norm, Slimming, Taylor
from .successive_halving import SuccessiveHalving
from .synflow import Synflow

ARMS: dict[str, type[Arm]] = {}
BUILT_IN: tuple[type[Arm], ...] = (Dense, Random, RandomSearch, Oracle, Magnitude, Lottery, LotteryReinit,
                                   LotteryRandom, Gmp, Snip, Grasp, Synflow, Shuffle, L1Norm, Taylor, Fpgm, Slimming,
                                   SuccessiveHalving, Evolution)


def register_arm(cls: type[Arm]) -> type[Arm]:
    """Make the arm class `cls` available to configs as `cls.name` (usable as a decorator). A
    built-in arm's name is refused (replacing `random` would change every comparison's control);
    registering a user's arm again under its name replaces it, as a notebook cell run twice does."""
    if not (isinstance(cls, type) and issubclass(cls, Arm)):
        raise SparsearchError(f"register_arm: expected a subclass of sparsearch.Arm, got {cls!r}")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise SparsearchError(f"register_arm: {cls.__name__}.name must be an identifier string, got {name!r}")
    spaces = getattr(cls, "spaces", ())
    if not spaces or not set(spaces) <= {"node", "weight"}:
        raise SparsearchError(f"register_arm: {cls.__name__}.spaces must name 'node' and/or 'weight', got {spaces!r}")
    if name in ARMS and ARMS[name] in BUILT_IN and cls is not ARMS[name]:
        raise SparsearchError(f"register_arm: {cls.__name__}.name {name!r} is a built-in arm's name, which it "
                              f"would replace; give your arm a name of its own")
    ARMS[name] = cls
    return cls


for _arm in BUILT_IN:
    register_arm(_arm)


def _known(name: str, where: str) -> type[Arm]:
    if not isinstance(name, str):
        raise SparsearchError(f"{where}: must be the name of one arm (a string), got {name!r}")
    if name not in ARMS:
        raise SparsearchError(f"{where}: unknown arm {name!r}; known: {', '.join(sorted(ARMS))}")
    return ARMS[name]


def _class_and_settings(config: Config, name: str) -> tuple[type[Arm], dict]:
    """The arm class `name` stands for, and its settings: a table with `arm = "CLASS"` makes
    `name` a variant of that arm (e.g. one `random_search` per probe)."""
    table = dict(config.arms.get(name, {}))
    if "arm" in table:
        return _known(table.pop("arm"), f"arms.{name}.arm"), table
    return _known(name, "search.arms" if name in config.search.arms else f"arms.{name}"), table


def _table(name: str, cls: type[Arm], settings: dict) -> dict:
    """An `[arms.NAME]` table: the settings, and `arm = "CLASS"` when NAME is a variant."""
    return {**({"arm": cls.name} if cls.name != name else {}), **settings}


def build_arm(config: Config, name: str) -> Arm:
    """The arm `name` with its `[arms.NAME]` settings from `config` (its defaults without a table)."""
    cls, settings = _class_and_settings(config, name)
    arm = cls.named(name, **settings)
    arm.check(config.train.epochs)
    arm.check_scale(config)
    arm.check_search(config.search)
    return arm


def build_arms(config: Config) -> dict[str, Arm]:
    """Every arm of `config.search.arms`, validated (with the peers it reads) against the space,
    the recipe and `[search]`; raises SparsearchError naming the key at fault."""
    for name in config.arms:
        _class_and_settings(config, name)
    arms = {}
    for name in config.search.arms:
        arm = build_arm(config, name)
        if config.search.space not in arm.spaces:
            works_in = " and ".join(f"'{space}'" for space in arm.spaces)
            raise SparsearchError(
                f"search.arms: {name!r} works in space {works_in} only; set search.space or drop the arm"
            )
        planned_sparsities(arm, config.search.sparsities, lambda peer: build_arm(config, peer))
        arms[name] = arm
    return arms


def with_arm_settings(config: Config) -> Config:
    """`config` with a full `[arms.NAME]` table for every listed arm that has settings."""
    arms = {name: build_arm(config, name) for name in config.search.arms}
    tables = {name: _table(name, type(arm), arm.params.model_dump(exclude_none=True)) for name, arm in arms.items()}
    return config.model_copy(update={"arms": {**config.arms, **{k: v for k, v in tables.items() if v}}})


def quick_arms(config: Config) -> Config:
    """`config` with every listed arm's settings shrunk for a smoke run."""
    tables = {}
    for name in config.search.arms:
        if name in ARMS or "arm" in config.arms.get(name, {}):
            cls, settings = _class_and_settings(config, name)
            tables[name] = _table(name, cls, cls.quick(settings))
    return config.model_copy(update={"arms": {**config.arms, **{k: v for k, v in tables.items() if v}}})


__all__ = ["ARMS", "Arm", "ArmRequest", "TrialPlan", "build_arm", "build_arms", "planned_sparsities", "quick_arms",
           "register_arm", "with_arm_settings"]
