"""The tutor's view of mastery: knowledge tracing as an extended Kalman filter.

Per topic the tutor holds a Gaussian approximation of the Bayesian knowledge tracing
posterior over mastery (Corbett & Anderson, 1995), predicted forward with nominal
learning and forgetting and updated from each observed answer through BKT's answer
model with a nominal guess and slip.
"""

from __future__ import annotations

import numpy as np

from lucidgym.envs.jit import inlined
from lucidgym.envs.tutoring.parameters import NUM_TOPICS

NOMINAL_GUESS, NOMINAL_SLIP, NOMINAL_FORGET = 0.2, 0.1, 0.008
"""The answer model and forgetting the tutor assumes (not the student's own)."""
MAX_VARIANCE = 0.25
"""The variance of a distribution on [0, 1] is at most 1/4."""


@inlined
def track(
    est: np.ndarray,
    var: np.ndarray,
    new_est: np.ndarray,
    new_var: np.ndarray,
    i: int,
    topic: int,
    teaches: bool,
    nominal_gain: float,
    hint: float,
    score: float,
    items: int,
) -> None:
    """One Kalman step of student ``i``'s posterior over mastery.

    Every topic is predicted forward (nominal forgetting; nominal learning on the
    practised one); the current topic is then updated from the answers, if any. Rows
    are indexed rather than passed as views, which the compiled step would have to
    reference-count.

    Args:
        est: ``[N, 4]`` posterior means of mastery before the step.
        var: ``[N, 4]`` posterior variances before the step.
        new_est: ``[N, 4]``; row ``i`` receives the means after the step.
        new_var: ``[N, 4]``; row ``i`` receives the variances after the step.
        i: the student.
        topic: the topic worked on this step.
        teaches: whether the strategy teaches (practises the topic).
        nominal_gain: the assumed learn transition of the strategy.
        hint: hint level in [0, 1] the answers were given with.
        score: fraction of the asked items answered right (0 if none asked).
        items: items asked (0 for none).
    """
    for j in range(NUM_TOPICS):
        learn = nominal_gain if j == topic else 0.0
        forget = 0.0 if (j == topic and teaches) else NOMINAL_FORGET * est[i, j]
        new_est[i, j] = est[i, j] + learn * (1.0 - est[i, j]) - forget
        new_var[i, j] = var[i, j] + 0.0004 + 0.004 * learn
    if items > 0:
        update_from_answers(new_est, new_var, i, topic, hint, score, items)
    for j in range(NUM_TOPICS):
        new_var[i, j] = min(new_var[i, j], MAX_VARIANCE)


@inlined
def update_from_answers(
    new_est: np.ndarray,
    new_var: np.ndarray,
    i: int,
    topic: int,
    hint: float,
    score: float,
    items: int,
) -> None:
    """The Kalman update of student ``i``'s predicted ``topic`` from ``items > 0`` answers."""
    mu_prior, v_prior = new_est[i, topic], new_var[i, topic]
    guess = NOMINAL_GUESS + 0.3 * hint * (1.0 - NOMINAL_GUESS)
    slope = 1.0 - NOMINAL_SLIP - guess
    p = guess + slope * mu_prior
    noise = p * (1.0 - p) / items + 0.01
    gain = slope * v_prior / (slope * slope * v_prior + noise)
    new_est[i, topic] = min(max(mu_prior + gain * (score - p), 0.0), 1.0)
    new_var[i, topic] = v_prior * (1.0 - gain * slope)
