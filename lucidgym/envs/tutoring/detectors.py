"""The tutor's noisy affect and engagement detectors (observation dims 4-15).

Sensor-free affect detectors are linear in what a tutoring system logs and noisy
(Baker et al., 2012): each signal is a fixed linear reading of the student's true
affect (engagement ``E``, confusion ``C``, frustration ``F``, boredom ``B``, fatigue
``G``), session (recent accuracy, streak, mastery ``M`` of the current topic) and
traits (curiosity, anxiety), plus a bias and uniform noise, clipped to [0, 1]:

=====  ================  ===============================================  =====
dim    signal            reading                                          noise
=====  ================  ===============================================  =====
4      attention         0.8 E - 0.2 G + 0.1                              0.08
5      participation     0.6 E - 0.3 B + 0.2 curiosity + 0.15             0.10
6      on-task ratio     0.5 E - 0.4 B - 0.2 G + 0.45                     0.07
7      response latency  -0.3 E + 0.4 C + 0.3 G - 0.2 M + 0.45            0.08
8      accuracy          accuracy over recent answers                     0
9      depth             0.3 E - 0.2 C + 0.5 M + 0.1                      0.08
10     speed             0.2 E - 0.3 C - 0.2 G + 0.4 M + 0.35             0.08
11     streak            0.2 streak (of 5)                                0
12     frustration       0.1 C + 0.8 F + 0.05                             0.10
13     confidence        -0.3 F + 0.4 accuracy + 0.3 M - 0.2 anxiety + 0.3  0.08
14     curiosity         0.3 E - 0.3 B + 0.4 curiosity + 0.1              0.10
15     boredom           0.8 B + 0.1 G + 0.05                             0.10
=====  ================  ===============================================  =====

Noise is uniform with the standard deviation in the last column.
"""

from __future__ import annotations

import numpy as np

from lucidgym.envs.jit import inlined
from lucidgym.envs.tutoring.parameters import BOREDOM, CONFUSION, ENGAGEMENT, FATIGUE, FRUSTRATION

NUM_SIGNALS = 12
DETECTOR_NOISE = np.array([0.08, 0.1, 0.07, 0.08, 0, 0.08, 0.08, 0, 0.1, 0.08, 0.1, 0.1])
"""``[12]``: standard deviations of the signals' uniform noise."""
NOISE_HALF_WIDTH = DETECTOR_NOISE * np.sqrt(3.0)  # uniform noise with these deviations
NOISY_SIGNALS = int(np.count_nonzero(DETECTOR_NOISE))
"""Signals with noise (all but accuracy and streak), each taking one uniform per reading."""


@inlined
def _noisy(raw: float, u: float, signal: int) -> float:
    """A reading plus the uniform noise of ``signal`` (``u`` in [0, 1)), clipped to [0, 1]."""
    raw += (2.0 * u - 1.0) * NOISE_HALF_WIDTH[signal]
    return min(max(raw, 0.0), 1.0)


@inlined
def detect_one(
    out: np.ndarray,
    i: int,
    mind: np.ndarray,
    accuracy: float,
    streak: float,
    mastery: float,
    curiosity: float,
    anxiety: float,
    u: np.ndarray,
    u_row: int,
    first_draw: int,
) -> None:
    """Write the ``[12]`` readings of student ``i`` into row ``i`` of ``out``.

    Rows are indexed rather than passed as views, which the compiled step would have
    to reference-count.

    Args:
        out: ``[N, 12]`` readings in [0, 1].
        i: the student.
        mind: ``[N, 6]`` engagement, confusion, frustration, boredom, fatigue, efficiency.
        accuracy: accuracy over recent answers.
        streak: right answers in a row.
        mastery: true mastery of the student's current topic.
        curiosity: the curiosity trait.
        anxiety: the test-anxiety trait.
        u: ``[R, D]`` uniforms in [0, 1).
        u_row: the noise comes from row ``u_row`` of ``u``, columns ``first_draw`` to
            ``first_draw + 9`` (one per noisy signal, in order).
        first_draw: see ``u_row``.
    """
    engagement, confusion = mind[i, ENGAGEMENT], mind[i, CONFUSION]
    frustration, boredom, fatigue = mind[i, FRUSTRATION], mind[i, BOREDOM], mind[i, FATIGUE]
    d = first_draw
    out[i, 0] = _noisy(0.8 * engagement - 0.2 * fatigue + 0.1, u[u_row, d], 0)
    participation = 0.6 * engagement - 0.3 * boredom + 0.2 * curiosity + 0.15
    out[i, 1] = _noisy(participation, u[u_row, d + 1], 1)
    out[i, 2] = _noisy(0.5 * engagement - 0.4 * boredom - 0.2 * fatigue + 0.45, u[u_row, d + 2], 2)
    latency = -0.3 * engagement + 0.4 * confusion + 0.3 * fatigue - 0.2 * mastery + 0.45
    out[i, 3] = _noisy(latency, u[u_row, d + 3], 3)
    out[i, 4] = min(max(accuracy, 0.0), 1.0)
    out[i, 5] = _noisy(0.3 * engagement - 0.2 * confusion + 0.5 * mastery + 0.1, u[u_row, d + 4], 5)
    speed = 0.2 * engagement - 0.3 * confusion - 0.2 * fatigue + 0.4 * mastery + 0.35
    out[i, 6] = _noisy(speed, u[u_row, d + 5], 6)
    out[i, 7] = min(max(0.2 * streak, 0.0), 1.0)
    out[i, 8] = _noisy(0.1 * confusion + 0.8 * frustration + 0.05, u[u_row, d + 6], 8)
    confidence = -0.3 * frustration + 0.4 * accuracy + 0.3 * mastery - 0.2 * anxiety + 0.3
    out[i, 9] = _noisy(confidence, u[u_row, d + 7], 9)
    interest = 0.3 * engagement - 0.3 * boredom + 0.4 * curiosity + 0.1
    out[i, 10] = _noisy(interest, u[u_row, d + 8], 10)
    out[i, 11] = _noisy(0.8 * boredom + 0.1 * fatigue + 0.05, u[u_row, d + 9], 11)
