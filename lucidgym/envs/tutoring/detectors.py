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
    e, c, f, b, g = mind[i, 0], mind[i, 1], mind[i, 2], mind[i, 3], mind[i, 4]
    d = first_draw
    out[i, 0] = _noisy(0.8 * e - 0.2 * g + 0.1, u[u_row, d], 0)
    out[i, 1] = _noisy(0.6 * e - 0.3 * b + 0.2 * curiosity + 0.15, u[u_row, d + 1], 1)
    out[i, 2] = _noisy(0.5 * e - 0.4 * b - 0.2 * g + 0.45, u[u_row, d + 2], 2)
    out[i, 3] = _noisy(-0.3 * e + 0.4 * c + 0.3 * g - 0.2 * mastery + 0.45, u[u_row, d + 3], 3)
    out[i, 4] = min(max(accuracy, 0.0), 1.0)
    out[i, 5] = _noisy(0.3 * e - 0.2 * c + 0.5 * mastery + 0.1, u[u_row, d + 4], 5)
    out[i, 6] = _noisy(0.2 * e - 0.3 * c - 0.2 * g + 0.4 * mastery + 0.35, u[u_row, d + 5], 6)
    out[i, 7] = min(max(0.2 * streak, 0.0), 1.0)
    out[i, 8] = _noisy(0.1 * c + 0.8 * f + 0.05, u[u_row, d + 6], 8)
    confidence = -0.3 * f + 0.4 * accuracy + 0.3 * mastery - 0.2 * anxiety + 0.3
    out[i, 9] = _noisy(confidence, u[u_row, d + 7], 9)
    out[i, 10] = _noisy(0.3 * e - 0.3 * b + 0.4 * curiosity + 0.1, u[u_row, d + 8], 10)
    out[i, 11] = _noisy(0.8 * b + 0.1 * g + 0.05, u[u_row, d + 9], 11)
