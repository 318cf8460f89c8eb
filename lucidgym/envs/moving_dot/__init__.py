"""The moving-dot family: a dot seen as pixels, steered to a goal, hidden by occluders.

The test bed of pixel world models under partial observability (seed: minimal RSSM).
"""

from lucidgym.envs.moving_dot.env import MovingDotEnv, MovingDotVectorEnv
from lucidgym.envs.moving_dot.kernel import (
    DOT,
    GOAL,
    OCCLUDER,
    Action,
    MovingDotConfig,
    MovingDotKernel,
    MovingDotState,
)
from lucidgym.envs.moving_dot.sequences import MovingDotSequences, generate_sequences

__all__ = [
    "DOT",
    "GOAL",
    "OCCLUDER",
    "Action",
    "MovingDotConfig",
    "MovingDotEnv",
    "MovingDotKernel",
    "MovingDotSequences",
    "MovingDotState",
    "MovingDotVectorEnv",
    "generate_sequences",
]
