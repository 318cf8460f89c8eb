"""The rule-based tutor: what a good human tutor would do from the current observation.

:func:`expert_strategy` is the ``reactive`` baseline of ``Tutoring-v0``: no lookahead,
no memory, only the rules below applied to the observation (layout in
:class:`~lucidgym.envs.tutoring.TutoringEnv`). The first rule that matches wins:

1. Session start (first three steps): METACOGNITIVE, to set goals, plan the work and
   learn how to study (its effect on learning lasts the whole session).
2. Frustrated or disengaged (frustration detector above 0.2 or attention below 0.65):
   MOTIVATIONAL.
3. Just answered wrong (attempts on the problem > 0): REMEDIAL.
4. Estimate of the current topic near mastery: ASSESSMENT, to confirm and move on.
5. Bored and past the novice zone: EXPLORATORY.
6. Otherwise by the estimate of the current topic (the zone): novice -> DIRECT,
   developing -> SCAFFOLDED, proficient -> SOCRATIC.

:func:`expert_actions` is the same tutor for a batch of observations that may have left
the observation space (a learned model's predictions): what ``expert_policy()`` of the
tutoring envs returns.
"""

from __future__ import annotations

import numpy as np

from lucidgym.envs.tutoring.parameters import NUM_TOPICS, SESSION_STEPS, Strategy

START_STEPS = 2.5 / SESSION_STEPS
"""Time elapsed below which the session is starting (its first three steps)."""
FRUSTRATED = 0.2
"""Frustration detector level above which the tutor encourages."""
INATTENTIVE = 0.65
"""Attention detector level below which the tutor encourages."""
READY = 0.7
"""Estimated mastery at which the tutor gives a quiz."""
BORED = 0.3
"""Boredom detector level above which the tutor switches to exploration."""
NOVICE, DEVELOPING = 0.35, 0.55
"""Estimated mastery bounds of the novice and developing zones."""


def expert_strategy(obs: np.ndarray) -> np.ndarray:
    """The expert tutor's strategy for each observation.

    Args:
        obs: ``[N, 20]`` observations (or one ``[20]`` observation).

    Returns:
        ``[N]`` int64 strategies (a 0-d array for one observation).
    """
    x = np.asarray(obs, dtype=np.float64)
    single = x.ndim == 1
    x = np.atleast_2d(x)
    if x.shape[1:] != (20,):
        raise ValueError(f"expert_strategy: observations must be [N, 20], got {x.shape}")
    topic = np.rint(x[:, 19] * (NUM_TOPICS - 1)).astype(np.intp)
    mastery = x[np.arange(x.shape[0]), topic]
    conditions = [
        x[:, 16] < START_STEPS,
        (x[:, 12] > FRUSTRATED) | (x[:, 4] < INATTENTIVE),
        x[:, 18] > 0,
        mastery >= READY,
        (x[:, 15] > BORED) & (mastery >= NOVICE),
        mastery < NOVICE,
        mastery < DEVELOPING,
    ]
    choices = [
        Strategy.METACOGNITIVE,
        Strategy.MOTIVATIONAL,
        Strategy.REMEDIAL,
        Strategy.ASSESSMENT,
        Strategy.EXPLORATORY,
        Strategy.DIRECT,
        Strategy.SCAFFOLDED,
    ]
    out = np.select(conditions, [int(c) for c in choices], default=int(Strategy.SOCRATIC))
    out = out.astype(np.int64)
    return out[0] if single else out


def expert_actions(obs: np.ndarray) -> np.ndarray:
    """:func:`expert_strategy` of ``obs [B, 20]`` clipped to [0, 1]: ``[B]`` int64 strategies."""
    return np.asarray(expert_strategy(np.clip(obs, 0.0, 1.0)))
