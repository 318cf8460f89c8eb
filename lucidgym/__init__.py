"""lucidgym: Gymnasium environments with model-based agents that plan in a learned world.

Importing the package registers every environment, so ``gym.make("Tutoring-v0")``
works after ``import lucidgym`` (and ``gym.make("lucidgym:Tutoring-v0")`` without it).
"""

from lucidgym.envs.registration import register_envs

__version__ = "0.1.0"

register_envs()

__all__ = ["__version__", "register_envs"]
