"""The tutor's view of mastery: knowledge tracing as an extended Kalman filter.

Per topic the tutor holds a Gaussian approximation of the Bayesian knowledge tracing
posterior over mastery (Corbett & Anderson, 1995), predicted forward with nominal
learning and forgetting and updated from each observed answer through BKT's answer
model with a nominal guess and slip.
"""

from __future__ import annotations

import numpy as np

NOMINAL_GUESS, NOMINAL_SLIP, NOMINAL_FORGET = 0.2, 0.1, 0.008
"""The answer model and forgetting the tutor assumes (not the student's own)."""


def track(
    est: np.ndarray,
    var: np.ndarray,
    here: np.ndarray,
    practised: np.ndarray,
    nominal_gain: np.ndarray,
    at_k: np.ndarray,
    hint: np.ndarray,
    score: np.ndarray,
    answered: np.ndarray,
    n_items: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The tutor's posterior over mastery: a Kalman step with BKT's answer model.

    Args:
        est: ``[N, 4]`` posterior means of mastery before the step.
        var: ``[N, 4]`` posterior variances before the step.
        here: ``[N, 4]`` one-hot of each student's current topic.
        practised: ``[N, 4]`` ``here`` where the strategy teaches, else 0.
        nominal_gain: ``[N]`` the assumed learn transition of each student's strategy.
        at_k: ``[N]`` flat index of entry ``(i, topic)`` of an ``[N, 4]`` array.
        hint: ``[N]`` hint level in [0, 1] the answers were given with.
        score: ``[N]`` fraction of the asked items answered right (0 if none asked).
        answered: ``[N]`` whether any item was asked.
        n_items: ``[N]`` items asked, at least 1.

    Returns:
        ``(est, var)``, both ``[N, 4]``, after the prediction and the answer update.
    """
    learn = here * nominal_gain[:, None]
    est = est + learn * (1.0 - est) - NOMINAL_FORGET * est * (1.0 - practised)
    var = var + 0.0004 + 0.004 * learn
    mu_prior, v_prior = est.take(at_k), var.take(at_k)
    guess = NOMINAL_GUESS + 0.3 * hint * (1.0 - NOMINAL_GUESS)
    slope = 1.0 - NOMINAL_SLIP - guess
    p = guess + slope * mu_prior
    noise = p * (1.0 - p) / n_items + 0.01
    gain = answered * (slope * v_prior / (slope * slope * v_prior + noise))  # all terms > 0
    mu = np.minimum(np.maximum(mu_prior + gain * (score - p), 0.0), 1.0)
    v = v_prior * (1.0 - gain * slope)
    est = est + here * (mu - mu_prior)[:, None]
    var = np.minimum(var + here * (v - v_prior)[:, None], 0.25)
    return est, var
