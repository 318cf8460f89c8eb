"""The parameters of the ``Tutoring-v0`` student model (see :mod:`.student` for the model).

The eight strategies, the per-strategy zone-of-proximal-development tables, the topics'
difficulty and the populations' traits, and the column layout of
:class:`~lucidgym.envs.tutoring.student.StudentState`.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Strategy(IntEnum):
    """The tutor's eight strategies (the actions of ``Tutoring-v0``)."""

    SOCRATIC = 0
    SCAFFOLDED = 1
    DIRECT = 2
    EXPLORATORY = 3
    REMEDIAL = 4
    ASSESSMENT = 5
    MOTIVATIONAL = 6
    METACOGNITIVE = 7


NUM_TOPICS = 4
NUM_STRATEGIES = len(Strategy)
# Plain ints of some strategies, for the compiled step.
EXPLORATORY_ACTION, REMEDIAL_ACTION = int(Strategy.EXPLORATORY), int(Strategy.REMEDIAL)
ASSESSMENT_ACTION, MOTIVATIONAL_ACTION = int(Strategy.ASSESSMENT), int(Strategy.MOTIVATIONAL)
METACOGNITIVE_ACTION = int(Strategy.METACOGNITIVE)
OBS_DIM = 20
QUIZ_ITEMS = 4
"""Items in an ASSESSMENT quiz; at least ``QUIZ_PASS`` right moves to the next topic."""
QUIZ_PASS = 3
MASTERED = 0.9
"""True mastery every topic must reach for the session to end in success."""
REWARD_SCALE = 10.0
"""Reward = ``REWARD_SCALE`` times the step's increase of summed true mastery."""
SESSION_STEPS = 80
"""The registered session length (``max_episode_steps`` of ``Tutoring-v0``)."""

# Columns of StudentState.mind, .traits and .session.
ENGAGEMENT, CONFUSION, FRUSTRATION, BOREDOM, FATIGUE, EFFICIENCY = range(6)
AFFECTS = 4
"""The first ``AFFECTS`` columns of ``mind`` are the affect ``info["affect"]`` reports."""
LEARN, GUESS, SLIP, FORGET, ANXIETY, PERSIST, CURIOSITY, FATIGUE_RATE, POP = range(9)
STEP, TOPIC, HINT, ATTEMPTS, LAST, RUN, STREAK, ERROR, ACCURACY = range(9)

# Per strategy (index = Strategy): the ZPD bell, items asked, and side effects.
DEMAND = np.array([0.80, 0.45, 0.05, 0.90, 0.35, 0.60, 0.0, 0.0])
WIDTH = np.array([0.30, 0.55, 0.35, 0.28, 0.40, 0.50, 1.0, 1.0])
EFFICACY = np.array([1.25, 0.80, 1.00, 1.35, 0.45, 0.12, 0.0, 0.0])
REMEDY = np.array([0.0, 0.0, 0.0, 0.0, 0.90, 0.0, 0.0, 0.0])
"""Extra effect of a strategy on the step after a wrong answer."""
MISCONCEPTION = np.array([0.45, 0.25, 0.25, 0.45, 0.0, 0.0, 0.0, 0.0])
"""Fraction of a strategy's effect lost while an error is left uncorrected."""
ITEMS = np.array([1, 1, 1, 1, 1, QUIZ_ITEMS, 0, 0])
HINT_STEP = np.array([0.0, 1 / 3, 1.0, 0.0, 1 / 3, 0.0, 0.0, 0.0])
TEACHES = EFFICACY > 0
NOMINAL_GAIN = np.array([0.06, 0.07, 0.08, 0.06, 0.05, 0.01, 0.0, 0.0])
"""The tutor's assumed learn transition per strategy (its estimate's prediction step)."""
DIFFICULTY = np.array([0.0, 0.1, 0.2, 0.3])
PRIOR_ESTIMATE = np.array([0.3, 0.2, 0.15, 0.1])
PRIOR_VARIANCE = 0.06

POPULATIONS = ("novice", "average", "advanced", "anxious", "mixed")
"""Named student populations; ``mixed`` draws each student from the first four."""
MIX = np.array([0.3, 0.35, 0.2, 0.15])
"""Shares of novice, average, advanced and anxious students in ``mixed``."""
MIX_CDF = MIX.cumsum()
MIX_CDF /= MIX_CDF[-1]
# Trait means and spreads per population (rows: novice, average, advanced, anxious).
TRAIT_MEAN = np.array(
    [
        [0.11, 0.20, 0.10, 0.015, 0.35, 0.55, 0.45, 0.006],
        [0.15, 0.20, 0.08, 0.010, 0.30, 0.60, 0.50, 0.005],
        [0.21, 0.22, 0.05, 0.006, 0.20, 0.70, 0.65, 0.004],
        [0.13, 0.18, 0.14, 0.012, 0.75, 0.45, 0.35, 0.006],
    ]
)
TRAIT_SPREAD = np.array([0.03, 0.04, 0.03, 0.003, 0.10, 0.08, 0.12, 0.0015])
PRIOR_MASTERY = np.array(
    [
        [0.08, 0.04, 0.02, 0.01],
        [0.35, 0.20, 0.10, 0.05],
        [0.70, 0.50, 0.30, 0.15],
        [0.30, 0.15, 0.08, 0.03],
    ]
)
