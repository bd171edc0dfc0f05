"""Convergence metrics of trials and statistics across seeds."""
