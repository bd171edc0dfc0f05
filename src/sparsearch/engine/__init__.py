"""The population engine: trains and evaluates many networks as one batched tensor program."""

RECIPE_VERSION = "1"
"""Bumped whenever the engine's numerics change, so stored trials are not silently reused."""
