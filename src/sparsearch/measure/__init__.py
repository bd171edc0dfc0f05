"""Measured speed: every trial's network timed on a device, with the fastest honest kernel
(DyNAS-T's measurement, Cummings et al. 2022, "A Hardware-Aware System for Accelerating Deep
Neural Network Optimization"): `timing` times a call, `kernels` builds the ways one network can
run, `trials` measures an experiment's trials and stores what it measured."""
