"""Environment families; this package knows nothing of models, agents or benchmarks."""

from lucidgym.envs.registration import ENVS, env_ids, register_envs

__all__ = ["ENVS", "env_ids", "register_envs"]
