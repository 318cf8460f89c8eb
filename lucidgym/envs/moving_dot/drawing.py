"""The colour frame behind ``render_mode="rgb_array"`` (and ``"human"``).

Observations themselves are drawn by :meth:`MovingDotKernel.observe`, over a whole
batch at once; this module turns one of them into an upscaled picture for people,
where the hidden dot's true position shows faintly through its occluder.
"""

from __future__ import annotations

import numpy as np

from lucidgym.envs.moving_dot.kernel import (
    DOT,
    GOAL,
    OCCLUDER,
    MovingDotKernel,
    MovingDotState,
)
from lucidgym.envs.rendering import draw_text

BACKGROUND = (18, 20, 28)
"""Empty grid."""
OCCLUDER_COLOUR = (96, 100, 112)
"""Occluders."""
GOAL_COLOUR = (70, 200, 110)
"""Goal marker."""
DOT_COLOUR = (250, 200, 50)
"""The dot where the agent sees it."""
HIDDEN_DOT_COLOUR = (150, 135, 95)
"""The dot where an occluder hides it from the agent (shown only to people)."""
_STRIP = 20
"""Height of the status line under the grid, in frame pixels."""

_PALETTE = np.zeros((256, 3), dtype=np.uint8)
_PALETTE[0] = BACKGROUND
_PALETTE[OCCLUDER] = OCCLUDER_COLOUR
_PALETTE[GOAL] = GOAL_COLOUR
_PALETTE[DOT] = DOT_COLOUR


def render_frame(
    kernel: MovingDotKernel, state: MovingDotState, steps: int, episode_return: float
) -> np.ndarray:
    """A ``[S * size + 20, S * size, 3]`` uint8 picture of episode 0 of ``state``.

    ``S`` is the upscaling factor, ``max(1, 256 // size)``. Beneath the grid a status
    line shows the step, the return so far and whether the dot is hidden.
    """
    size = kernel.size
    obs = kernel.observe(state)[0, 0]
    rgb = _PALETTE[obs].reshape(-1, 3)
    pixels = kernel.dot_pixels(state.dot[:1])[0]
    hidden = obs.reshape(-1)[pixels] == OCCLUDER
    rgb[pixels[hidden]] = HIDDEN_DOT_COLOUR
    scale = max(1, 256 // size)
    grid = np.repeat(np.repeat(rgb.reshape(size, size, 3), scale, axis=0), scale, axis=1)
    frame = np.zeros((grid.shape[0] + _STRIP, grid.shape[1], 3), dtype=np.uint8)
    frame[: grid.shape[0]] = grid
    occluded = bool(kernel.occluded(state)[0])
    status = f"T {steps} R {episode_return:.1f}" + (" HIDDEN" if occluded else "")
    draw_text(frame, status, 4, grid.shape[0] + 4, (220, 220, 230))
    return frame
