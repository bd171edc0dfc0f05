"""The executor `[engine] executor` names: in-process (engine/executor.py) or Ray
(engine/ray_executor.py; Ray itself is imported only when asked for)."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

from ..config import EngineConfig
from .device import resolve_device
from .executor import IN_PROCESS, Executor
from .ray_executor import RayExecutor, check_reachable, ray_module


def open_executor(engine: EngineConfig) -> AbstractContextManager[Executor]:
    """The executor `[engine]` asks for, as a context manager (Ray connects on entry). Says at
    once, in one line, if Ray is asked for but not installed."""
    if engine.executor == "ray":
        ray_module(local=engine.address is None)
        check_reachable(engine.address)
        gpus = 1 if resolve_device(engine.device) == "cuda" else 0
        return RayExecutor(engine.address, engine.thread_choice.count, engine.retries, gpus)
    return nullcontext(IN_PROCESS)
