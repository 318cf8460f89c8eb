"""Stable-Baselines3 algorithms as lucidgym agents, and feature extractors (extra ``sb3``)."""
