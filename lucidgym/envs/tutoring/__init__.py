"""The tutoring family: a synthetic student and a tutor agent (seed: KAT-2).

See :mod:`lucidgym.envs.tutoring.student` for the student model and the literature
it follows, and :func:`~lucidgym.envs.tutoring.policies.expert_strategy` for the
rule-based tutor used as the reactive baseline.
"""

from lucidgym.envs.tutoring.env import TutoringEnv, TutoringVectorEnv
from lucidgym.envs.tutoring.policies import expert_strategy
from lucidgym.envs.tutoring.student import (
    NUM_TOPICS,
    OBS_DIM,
    POPULATIONS,
    Strategy,
    StudentState,
    TutoringKernel,
)

__all__ = [
    "NUM_TOPICS",
    "OBS_DIM",
    "POPULATIONS",
    "Strategy",
    "StudentState",
    "TutoringEnv",
    "TutoringKernel",
    "TutoringVectorEnv",
    "expert_strategy",
]
