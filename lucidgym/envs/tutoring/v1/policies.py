"""The rule-based tutor of ``Tutoring-v1``: v0's rules, re-tuned, plus spaced reviews.

A good human tutor who knows that the post-test comes a while after the session adds
one rule to v0's (:mod:`lucidgym.envs.tutoring.policies`): every so often, review the
earlier topic left alone the longest. The rules, the first match winning, read only
the observation (layout in :class:`~lucidgym.envs.tutoring.v1.env.TutoringV1Env`):

1. Session start (time elapsed below ``start``): METACOGNITIVE.
2. Frustrated (detector above ``frustrated``) or inattentive (attention below
   ``inattentive``): MOTIVATIONAL.
3. Just answered wrong (attempts on the problem > 0): REMEDIAL.
4. Spaced review: among the topics other than the current one whose estimate is at
   least ``learned`` (there is something to retrieve) and at most ``fading`` (it has
   faded enough for a retrieval to pay), the one practised longest ago, if that was at
   least ``spacing`` steps ago: ``REVIEW_<k>``.
5. Estimate of the current topic at least ``ready``: ASSESSMENT.
6. Bored (detector above ``bored``) and past the novice zone: EXPLORATORY.
7. By the estimate of the current topic: below ``novice`` DIRECT, below ``developing``
   SCAFFOLDED, else SOCRATIC.

The thresholds of :data:`TUNED` come from a search on training students
(``scripts/tune_tutoring_v1_rules.py``; the search and its result are in
``docs/tutoring.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from lucidgym.envs.tutoring.parameters import NUM_TOPICS, SESSION_STEPS, Strategy
from lucidgym.envs.tutoring.v1.parameters import OBS_DIM, REVIEW


@dataclass(frozen=True)
class Rules:
    """The thresholds of the v1 rules (observation units, in [0, 1], unless named)."""

    start: float = 2.5 / SESSION_STEPS
    """Time elapsed below which the session is starting (METACOGNITIVE)."""
    frustrated: float = 0.2
    """Frustration detector level above which the tutor encourages."""
    inattentive: float = 0.65
    """Attention detector level below which the tutor encourages."""
    spacing: float = 12.0
    """Steps since a topic's last practice after which it is reviewed."""
    learned: float = 0.3
    """Estimated recall from which a topic has something to review."""
    fading: float = 1.01
    """Estimated recall up to which a topic is due for review (above 1: any)."""
    ready: float = 0.7
    """Estimated recall of the current topic at which the tutor gives a quiz."""
    bored: float = 0.3
    """Boredom detector level above which the tutor switches to exploration."""
    novice: float = 0.35
    """Estimated recall below which the topic is taught directly."""
    developing: float = 0.55
    """Estimated recall below which the topic is scaffolded (else SOCRATIC)."""

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"Rules.{name} must be a finite number >= 0, got {value}")


TUNED = Rules(
    start=0.04375,
    frustrated=0.3,
    inattentive=0.65,
    spacing=32.0,
    learned=0.4,
    fading=1.01,
    ready=0.55,
    bored=0.4,
    novice=0.35,
    developing=0.45,
)
"""The thresholds the tuning search found (what ``expert_policy()`` uses)."""


def rule_actions(obs: np.ndarray, rules: Rules = TUNED, horizon: int = SESSION_STEPS) -> np.ndarray:
    """The v1 tutor's action for each observation.

    Args:
        obs: ``[N, 24]`` observations (or one ``[24]`` observation).
        rules: the thresholds.
        horizon: the session length the observation's times are scaled by.

    Returns:
        ``[N]`` int64 actions (a 0-d array for one observation).
    """
    x = np.asarray(obs, dtype=np.float64)
    single = x.ndim == 1
    x = np.atleast_2d(x)
    if x.shape[1:] != (OBS_DIM,):
        raise ValueError(f"Tutoring-v1 rules: observations must be [N, {OBS_DIM}], got {x.shape}")
    rows = np.arange(x.shape[0])
    topic = np.rint(x[:, 19] * (NUM_TOPICS - 1)).astype(np.intp)
    recall = x[rows, topic]
    since = x[:, 20 : 20 + NUM_TOPICS] * horizon
    estimate = x[:, :NUM_TOPICS]
    eligible = (estimate >= rules.learned) & (estimate <= rules.fading)
    eligible &= np.arange(NUM_TOPICS) != topic[:, None]
    waited = np.where(eligible, since, -1.0)
    oldest = waited.argmax(axis=1)
    conditions = [
        x[:, 16] < rules.start,
        (x[:, 12] > rules.frustrated) | (x[:, 4] < rules.inattentive),
        x[:, 18] > 0,
        waited[rows, oldest] >= rules.spacing,
        recall >= rules.ready,
        (x[:, 15] > rules.bored) & (recall >= rules.novice),
        recall < rules.novice,
        recall < rules.developing,
    ]
    choices = [
        int(Strategy.METACOGNITIVE),
        int(Strategy.MOTIVATIONAL),
        int(Strategy.REMEDIAL),
        -1,  # the review, filled in below
        int(Strategy.ASSESSMENT),
        int(Strategy.EXPLORATORY),
        int(Strategy.DIRECT),
        int(Strategy.SCAFFOLDED),
    ]
    out = np.select(conditions, choices, default=int(Strategy.SOCRATIC)).astype(np.int64)
    out = np.where(out == -1, REVIEW + oldest, out)
    return out[0] if single else out


def rule_policy(
    rules: Rules = TUNED, horizon: int = SESSION_STEPS
) -> Callable[[np.ndarray], np.ndarray]:
    """The rules as a batched ``obs [B, 24] -> actions [B]`` function that clips to [0, 1]."""

    def policy(obs: np.ndarray) -> np.ndarray:
        return np.asarray(rule_actions(np.clip(obs, 0.0, 1.0), rules, horizon))

    return policy


expert_actions_v1 = rule_policy()
"""The tuned rules over ``obs [B, 24]`` clipped to [0, 1]: ``expert_policy()`` of v1."""
