"""The population engine: trains and evaluates many networks as one batched tensor program."""

RECIPE_VERSION = "2"
"""Bumped whenever the engine's numerics change, so stored trials are not silently reused.
2: the hand-written MLP step with SGD's momentum accumulated by the weight-gradient GEMM
(engine/optim.py): the same algorithm as version 1, rounded differently."""
