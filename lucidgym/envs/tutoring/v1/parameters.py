"""The parameters of the ``Tutoring-v1`` student (see :mod:`.step` for the model).

``Tutoring-v1`` keeps the v0 student (:mod:`lucidgym.envs.tutoring.parameters`: the
eight strategies, their zone-of-proximal-development tables, affect, quitting) and adds
memory that decays with a half-life, retrieval practice of any topic, and a delayed
post-test as the outcome. This module holds what v1 adds.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from lucidgym.envs.tutoring.parameters import NUM_STRATEGIES, NUM_TOPICS


class Action(IntEnum):
    """The twelve actions of ``Tutoring-v1``: v0's strategies, then a review per topic."""

    SOCRATIC = 0
    SCAFFOLDED = 1
    DIRECT = 2
    EXPLORATORY = 3
    REMEDIAL = 4
    ASSESSMENT = 5
    MOTIVATIONAL = 6
    METACOGNITIVE = 7
    REVIEW_0 = 8
    REVIEW_1 = 9
    REVIEW_2 = 10
    REVIEW_3 = 11


REVIEW = int(Action.REVIEW_0)
"""The first review action: ``REVIEW + k`` asks one retrieval item on topic ``k``."""
NUM_ACTIONS = NUM_STRATEGIES + NUM_TOPICS
OBS_DIM = 24
"""v0's 20 observation dims, then the time since each topic was last practised."""

DELAY = 120.0
"""The delay between the session's end and the post-test, in session steps (a whole
number: the step raises each topic's one-step decay to this power)."""
BASE_HALFLIFE = 10.0
"""Half-life (steps) of a newly learned memory for a student of multiplier 1."""
PRIOR_CONSOLIDATION = 3.0
"""Prior knowledge is older and more consolidated: its half-life is scaled by
``1 + PRIOR_CONSOLIDATION * prior recall``."""
SPACING_GAIN = 10.0
"""A retrieval that succeeds multiplies the half-life by
``1 + SPACING_GAIN * lapse ** SPACING_POWER``, where ``lapse`` is the share of the memory
forgotten since it was last practised."""
SPACING_POWER = 2.0
"""How convex the consolidation is in the lapse: above 1, a retrieval right after practice
consolidates far less per step than one after a real gap (massed practice pays little)."""
MASSED_GAIN = 0.0
"""The half-life growth of a successful retrieval right after practice (no lapse): none,
beyond what the lapse of one step gives."""
MAX_HALFLIFE = 5000.0
"""A cap on the half-life (steps), far beyond any session and delay."""
TESTING_EFFECT = 0.3
"""A right retrieval raises recall by this share of the gap to 1 (retrieval practice)."""
FEEDBACK_RELEARN = 0.2
"""A wrong retrieval with corrective feedback re-teaches this share of the gap."""
REWARD_SCALE = 10.0
"""Reward = ``REWARD_SCALE`` times the step's change of the predicted post-test score."""

# The half-life multipliers: per population a mean, per topic a hidden lognormal spread.
HALFLIFE_MEAN = np.array([0.8, 1.0, 1.3, 1.0])
"""Mean half-life multiplier of novice, average, advanced and anxious students."""
HALFLIFE_SPREAD = 0.5
"""Standard deviation of the log multiplier of each topic (clipped at 2 deviations)."""

NOMINAL_HALFLIFE = 25.0
"""The half-life the tutor's knowledge tracing assumes for every topic."""
NOMINAL_REVIEW_GAIN = 0.05
"""The tutor's assumed learn transition of a review."""

# Extra columns of StudentStateV1.traits after v0's nine: a multiplier per topic.
HALFLIFE_COLUMNS = 9
TRAITS = HALFLIFE_COLUMNS + NUM_TOPICS
