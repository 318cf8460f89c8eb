"""``Tutoring-v1``: the v0 student with memory that fades, spaced reviews and a delayed post-test.

See :class:`~lucidgym.envs.tutoring.v1.env.TutoringV1Env` and ``docs/tutoring.md``.
"""

from lucidgym.envs.tutoring.v1.env import TutoringV1Env, TutoringV1VectorEnv
from lucidgym.envs.tutoring.v1.parameters import NUM_ACTIONS, OBS_DIM, Action
from lucidgym.envs.tutoring.v1.policies import TUNED, Rules, rule_actions, rule_policy
from lucidgym.envs.tutoring.v1.student import StudentStateV1, TutoringV1Kernel

__all__ = [
    "NUM_ACTIONS",
    "OBS_DIM",
    "TUNED",
    "Action",
    "Rules",
    "StudentStateV1",
    "TutoringV1Env",
    "TutoringV1Kernel",
    "TutoringV1VectorEnv",
    "rule_actions",
    "rule_policy",
]
