"""The tutoring family: a synthetic student and a tutor agent (seed: KAT-2).

See :mod:`lucidgym.envs.tutoring.student` for the student model and the literature
it follows (its parameters are in :mod:`~lucidgym.envs.tutoring.parameters`, its
compiled step in :mod:`~lucidgym.envs.tutoring.step`), and
:func:`~lucidgym.envs.tutoring.policies.expert_strategy` for the rule-based tutor used
as the reactive baseline.
"""

from lucidgym.envs.tutoring.env import TutoringEnv, TutoringVectorEnv
from lucidgym.envs.tutoring.parameters import NUM_TOPICS, OBS_DIM, POPULATIONS, Strategy
from lucidgym.envs.tutoring.policies import expert_strategy
from lucidgym.envs.tutoring.student import StudentState, TutoringKernel

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
