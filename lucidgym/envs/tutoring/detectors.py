"""The tutor's noisy affect and engagement detectors (observation dims 4-15).

Sensor-free affect detectors are linear in what a tutoring system logs and noisy
(Baker et al., 2012): each signal is a fixed linear reading of the student's true
affect, session and traits, plus a bias and uniform noise, clipped to [0, 1].
"""

from __future__ import annotations

import numpy as np

# Linear affect and engagement detectors: features [E, C, F, B, G, EFF, ACC, STREAK,
# MASTERY, CURIOSITY, ANXIETY] -> signals (observation dims 4-15), plus bias and noise.
DETECTOR = np.zeros((11, 12))
DETECTOR[:, 0] = [0.8, 0, 0, 0, -0.2, 0, 0, 0, 0, 0, 0]  # attention
DETECTOR[:, 1] = [0.6, 0, 0, -0.3, 0, 0, 0, 0, 0, 0.2, 0]  # participation
DETECTOR[:, 2] = [0.5, 0, 0, -0.4, -0.2, 0, 0, 0, 0, 0, 0]  # on-task ratio
DETECTOR[:, 3] = [-0.3, 0.4, 0, 0, 0.3, 0, 0, 0, -0.2, 0, 0]  # response latency
DETECTOR[:, 4] = [0, 0, 0, 0, 0, 0, 1.0, 0, 0, 0, 0]  # accuracy (recent window)
DETECTOR[:, 5] = [0.3, -0.2, 0, 0, 0, 0, 0, 0, 0.5, 0, 0]  # depth
DETECTOR[:, 6] = [0.2, -0.3, 0, 0, -0.2, 0, 0, 0, 0.4, 0, 0]  # speed
DETECTOR[:, 7] = [0, 0, 0, 0, 0, 0, 0, 0.2, 0, 0, 0]  # streak (of 5)
DETECTOR[:, 8] = [0, 0.1, 0.8, 0, 0, 0, 0, 0, 0, 0, 0]  # frustration
DETECTOR[:, 9] = [0, 0, -0.3, 0, 0, 0, 0.4, 0, 0.3, 0, -0.2]  # confidence
DETECTOR[:, 10] = [0.3, 0, 0, -0.3, 0, 0, 0, 0, 0, 0.4, 0]  # curiosity
DETECTOR[:, 11] = [0, 0, 0, 0.8, 0.1, 0, 0, 0, 0, 0, 0]  # boredom
"""``[11, 12]``: weights of the features (rows) in the signals (columns)."""
DETECTOR_BIAS = np.array([0.1, 0.15, 0.45, 0.45, 0, 0.1, 0.35, 0, 0.05, 0.3, 0.1, 0.05])
"""``[12]``: the signals' offsets."""
DETECTOR_NOISE = np.array([0.08, 0.1, 0.07, 0.08, 0, 0.08, 0.08, 0, 0.1, 0.08, 0.1, 0.1])
"""``[12]``: standard deviations of the signals' uniform noise."""
NOISE_HALF_WIDTH = DETECTOR_NOISE * np.sqrt(3.0)  # uniform noise with these deviations


def detect(
    mind: np.ndarray,
    accuracy: np.ndarray,
    streak: np.ndarray,
    mastery: np.ndarray,
    curiosity: np.ndarray,
    anxiety: np.ndarray,
    u: np.ndarray,
) -> np.ndarray:
    """Noisy detector readings ``[N, 12]`` of ``N`` students.

    Args:
        mind: ``[N, 6]`` engagement, confusion, frustration, boredom, fatigue, efficiency.
        accuracy: ``[N]`` accuracy over recent answers.
        streak: ``[N]`` right answers in a row.
        mastery: ``[N]`` true mastery of each student's current topic.
        curiosity: ``[N]`` the curiosity trait.
        anxiety: ``[N]`` the test-anxiety trait.
        u: ``[N, 12]`` uniforms in [0, 1), one per signal.

    Returns:
        ``[N, 12]`` float64 readings in [0, 1].
    """
    features = np.empty((u.shape[0], DETECTOR.shape[0]))
    for column, value in enumerate((accuracy, streak, mastery, curiosity, anxiety), start=6):
        features[:, column] = value
    features[:, :6] = mind
    # In place, in the order of ``features @ DETECTOR + DETECTOR_BIAS + noise``.
    raw = features @ DETECTOR
    raw += DETECTOR_BIAS
    noise = 2.0 * u
    noise -= 1.0
    noise *= NOISE_HALF_WIDTH
    raw += noise
    np.maximum(raw, 0.0, out=raw)
    np.minimum(raw, 1.0, out=raw)
    return raw
