"""Pictures of a tutoring session: a dashboard frame and a one-line text summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from lucidgym.envs.rendering import draw_bar, draw_text, fill_rect
from lucidgym.envs.tutoring.parameters import (
    BOREDOM,
    CONFUSION,
    EFFICIENCY,
    ENGAGEMENT,
    FATIGUE,
    FRUSTRATION,
    NUM_TOPICS,
    POP,
    POPULATIONS,
    STEP,
    TOPIC,
    Strategy,
)
from lucidgym.envs.tutoring.student import StudentState, TutoringKernel

if TYPE_CHECKING:  # v1 builds on this module
    from lucidgym.envs.tutoring.v1.student import StudentStateV1, TutoringV1Kernel

_SHORT = ("SOC", "SCA", "DIR", "EXP", "REM", "ASS", "MOT", "MET")
_STRATEGY_COLORS = (
    (120, 170, 255),
    (110, 210, 200),
    (240, 200, 80),
    (190, 140, 255),
    (250, 140, 90),
    (200, 200, 210),
    (120, 220, 110),
    (255, 130, 200),
)
_REVIEW_COLOR = (170, 230, 240)
"""Tiles of ``Tutoring-v1``'s reviews (actions past the eight strategies)."""
_BG, _TEXT, _DIM = (24, 24, 30), (230, 230, 235), (150, 150, 160)


def action_name(action: int) -> str:
    """A strategy's name, or ``REVIEW_<k>`` for ``Tutoring-v1``'s review of topic ``k``."""
    if action < len(Strategy):
        return Strategy(action).name
    return f"REVIEW_{action - len(Strategy)}"


def ansi_line(
    state: StudentState | StudentStateV1,
    kernel: TutoringKernel | TutoringV1Kernel,
    history: Sequence[tuple[int, float]],
    total: float,
) -> str:
    """One line: step, last strategy and reward, true vs estimated mastery, affect."""
    ses, mind = state.session[0], state.mind[0]
    last = f"{action_name(history[-1][0]):<13} r={history[-1][1]:+.2f}" if history else "start"
    mastery = " ".join(
        f"{state.mastery[0, k]:.2f}/{state.estimate[0, k]:.2f}" for k in range(NUM_TOPICS)
    )
    return (
        f"t={int(ses[STEP]):3d} topic={int(ses[TOPIC])} {last:<21} mastery(true/est)={mastery} "
        f"eng={mind[ENGAGEMENT]:.2f} conf={mind[CONFUSION]:.2f} frus={mind[FRUSTRATION]:.2f} "
        f"bore={mind[BOREDOM]:.2f} return={total:.2f}"
    )


def dashboard(
    state: StudentState | StudentStateV1,
    kernel: TutoringKernel | TutoringV1Kernel,
    history: Sequence[tuple[int, float]],
    total: float,
) -> np.ndarray:
    """A ``[232, 336, 3]`` uint8 dashboard of the session.

    Per topic, the tutor's estimate above the true mastery; the student's engagement,
    confusion, frustration, boredom, fatigue and efficiency as gauges; the last
    strategies chosen as coloured tiles; the running return.
    """
    frame = np.full((232, 336, 3), _BG, dtype=np.uint8)
    ses, mind = state.session[0], state.mind[0]
    population = POPULATIONS[int(state.traits[0, POP])]
    draw_text(frame, f"TUTORING t={int(ses[STEP])} {population}", 6, 4, _TEXT)
    draw_text(frame, "EST", 196, 24, (90, 170, 255))
    draw_text(frame, "TRUE", 250, 24, (240, 180, 60))
    topic = int(ses[TOPIC])
    for k in range(NUM_TOPICS):
        y = 40 + k * 18
        color = (255, 255, 120) if k == topic else _DIM
        draw_text(frame, f"TOPIC {k}", 6, y + 2, color)
        draw_bar(frame, 80, y, 240, 6, float(state.estimate[0, k]), (90, 170, 255))
        draw_bar(frame, 80, y + 7, 240, 6, float(state.mastery[0, k]), (240, 180, 60))
    gauges = (
        ("ENGAGED", mind[ENGAGEMENT], (100, 210, 120)),
        ("CONFUSED", mind[CONFUSION], (200, 160, 255)),
        ("FRUSTR", mind[FRUSTRATION], (235, 80, 70)),
        ("BORED", mind[BOREDOM], (160, 160, 170)),
        ("FATIGUE", mind[FATIGUE], (200, 140, 80)),
        ("EFFIC", (mind[EFFICIENCY] - 1.0) / 0.6, (255, 130, 200)),
    )
    for i, (name, value, color) in enumerate(gauges):
        x, y = 6 + (i % 2) * 166, 118 + (i // 2) * 18
        draw_text(frame, name, x, y, _DIM)
        draw_bar(frame, x + 72, y + 1, 84, 9, float(value), color)
    draw_text(frame, "LAST", 6, 176, _DIM)
    for i, (action, _) in enumerate(list(history)[-8:]):
        x = 44 + i * 36
        strategy = action < len(_SHORT)
        fill_rect(frame, x, 172, 32, 16, _STRATEGY_COLORS[action] if strategy else _REVIEW_COLOR)
        label = _SHORT[action] if strategy else f"RV{action - len(_SHORT)}"
        draw_text(frame, label, x + 3, 175, (20, 20, 20))
    draw_text(frame, f"RETURN {total:.2f}", 6, 206, _TEXT)
    if history:
        draw_text(frame, f"R {history[-1][1]:+.2f}", 196, 206, _TEXT)
    return frame
