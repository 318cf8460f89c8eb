"""Stable-Baselines3 algorithms as lucidgym agents, and feature extractors for them (extra ``sb3``)."""
