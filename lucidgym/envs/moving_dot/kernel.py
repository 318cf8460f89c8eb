"""The moving-dot dynamics, written once over a batch of ``N`` dots.

A dot moves on a ``size x size`` grid in pixel units: the action accelerates it,
velocity decays by a damping factor each step, and it reflects off the walls. Each
episode draws a goal and 0 to ``max_occluders`` occluding rectangles; the dot is
invisible while its centre pixel lies under an occluder. The single env, the native
vector env, the oracle and :func:`~lucidgym.envs.moving_dot.generate_sequences` all
run :class:`MovingDotKernel`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NamedTuple

import numpy as np

from lucidgym.envs.jit import compiled, inlined

MIN_SIZE = 8
"""The smallest grid side the family accepts."""
DOT = 255
"""Observation value of the dot's pixels."""
GOAL = 160
"""Observation value of the goal marker (a hollow square around the goal)."""
OCCLUDER = 80
"""Observation value of occluder pixels (drawn over the dot, never over the goal)."""
_MIN_START = 0.25
"""The dot starts at least this fraction of the grid side away from the goal."""
_CANDIDATES = 16
"""Candidates drawn at once per episode for rejection sampling of goal and start."""


class Action(IntEnum):
    """The actions of the discrete variant: an acceleration along one axis, or none."""

    NONE = 0
    UP = 1
    DOWN = 2
    LEFT = 3
    RIGHT = 4


_DISCRETE_ACCELERATION = np.array(
    [[0.0, 0.0], [0.0, -1.0], [0.0, 1.0], [-1.0, 0.0], [1.0, 0.0]], dtype=np.float64
)
"""Row ``a`` is the unit acceleration ``(ax, ay)`` of :class:`Action` ``a`` (y grows down)."""


@dataclass(frozen=True)
class MovingDotConfig:
    """Everything that defines a moving-dot environment; validated on construction."""

    size: int = 32
    """Grid side ``H = W`` in pixels (at least 8)."""
    continuous: bool = True
    """``Box(-1, 1, (2,))`` accelerations if true, else ``Discrete(5)`` (:class:`Action`)."""
    occlusion: bool = True
    """Draw occluders at all; ``False`` makes the dot always visible."""
    max_occluders: int = 2
    """Each episode draws between 0 and this many occluders, uniformly."""
    occluder_size: tuple[int, int] | None = None
    """``(min, max)`` side of an occluder in pixels; ``None``: ``(size // 5, size // 3)``."""
    damping: float = 0.7
    """Fraction of the velocity kept from one step to the next, in ``[0, 1]``."""
    acceleration: float | None = None
    """Pixels per step squared at full action; ``None``: ``0.5 * size / 32``."""
    arrival_bonus: float = 10.0
    """Reward added on the step that reaches the goal (which terminates the episode)."""

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, (int, np.integer)):
            raise ValueError(f"MovingDot: size must be an int, got {self.size!r}")
        if self.size < MIN_SIZE:
            raise ValueError(f"MovingDot: size must be at least {MIN_SIZE}, got {self.size}")
        if not 0 <= self.max_occluders <= 8:
            raise ValueError(
                f"MovingDot: max_occluders must be in [0, 8], got {self.max_occluders}"
            )
        lo, hi = self.occluder_sides
        if not 1 <= lo <= hi:
            raise ValueError(
                f"MovingDot: occluder_size must be (min, max) with 1 <= min <= max, "
                f"got {self.occluder_size}"
            )
        if hi > self.size:
            raise ValueError(
                f"MovingDot: occluder_size {self.occluder_size} is larger than the "
                f"{self.size}x{self.size} grid"
            )
        if not 0.0 <= self.damping <= 1.0:
            raise ValueError(f"MovingDot: damping must be in [0, 1], got {self.damping}")
        if not np.isfinite(self.accel) or self.accel <= 0:
            raise ValueError(f"MovingDot: acceleration must be positive, got {self.acceleration}")
        if not np.isfinite(self.arrival_bonus):
            raise ValueError(f"MovingDot: arrival_bonus must be finite, got {self.arrival_bonus}")

    @property
    def occluder_sides(self) -> tuple[int, int]:
        """``(min, max)`` occluder side in pixels (computed at runtime from ``size``)."""
        if self.occluder_size is None:
            return max(1, self.size // 5), max(1, self.size // 3)
        lo, hi = self.occluder_size
        return int(lo), int(hi)

    @property
    def accel(self) -> float:
        """Acceleration at full action in pixels per step squared (computed at runtime)."""
        return 0.5 * self.size / 32 if self.acceleration is None else float(self.acceleration)

    @property
    def dot_radius(self) -> int:
        """Half-width of the dot in pixels: 1 at 32x32, 2 at 64x64."""
        return max(1, round(self.size / 32))


class MovingDotState(NamedTuple):
    """A batch of ``N`` moving-dot episodes (every field has leading dimension ``N``)."""

    dot: np.ndarray
    """``[N, 4]`` float64: the dot's ``(x, y, vx, vy)``, in pixels (column, row) and pixels
    per step."""
    goal: np.ndarray
    """``[N, 2]`` float64: goal centre ``(x, y)`` in pixels."""
    scene: np.ndarray
    """``[N, H, W]`` uint8: the episode's still picture (goal marker and occluders)."""


class MovingDotKernel:
    """:class:`~lucidgym.envs.kernel.ArrayKernel` of the moving dot."""

    def __init__(self, config: MovingDotConfig) -> None:
        self.config = config
        size, r = config.size, config.dot_radius
        self.low = float(r)
        """Smallest coordinate of the dot centre (the whole dot stays on the grid)."""
        self.high = float(size - 1 - r)
        """Largest coordinate of the dot centre."""
        self.goal_radius = r + 1
        """Half-width of the hollow goal marker in pixels."""
        self.arrival_radius = r + 0.5
        """The goal is reached when the dot centre is this close to it (pixels)."""
        self.max_distance = float(np.hypot(self.high - self.low, self.high - self.low))
        """The largest possible dot-to-goal distance, which normalizes the reward."""
        d = np.arange(-r, r + 1)
        dy, dx = np.meshgrid(d, d, indexing="ij")
        disk = dx**2 + dy**2 <= r * r + r
        self._dot_offsets = (dy[disk] * size + dx[disk]).astype(np.intp)
        self._discrete_push = _DISCRETE_ACCELERATION * config.accel
        g = self.goal_radius
        e = np.arange(-g, g + 1)
        ey, ex = np.meshgrid(e, e, indexing="ij")
        ring = np.maximum(np.abs(ex), np.abs(ey)) == g
        self._goal_offsets = (ey[ring] * size + ex[ring]).astype(np.intp)

    @property
    def size(self) -> int:
        """Grid side in pixels."""
        return self.config.size

    # -- episode start --------------------------------------------------------------

    def initial(self, rng: np.random.Generator, n: int) -> MovingDotState:
        """``n`` fresh episodes: occluders, a goal outside them, a dot away from the goal."""
        cfg, size, g, m = self.config, self.config.size, self.goal_radius, _CANDIDATES
        k = cfg.max_occluders if cfg.occlusion else 0
        lo, hi = cfg.occluder_sides
        # One draw of uniforms, sliced: far cheaper than many small generator calls.
        u = rng.random((n, 1 + 4 * k + 4 * m + 2))
        count, u = np.floor(u[:, 0] * (k + 1)).astype(np.int64), u[:, 1:]
        w = lo + np.floor(u[:, 0:k] * (hi - lo + 1)).astype(np.int64)
        h = lo + np.floor(u[:, k : 2 * k] * (hi - lo + 1)).astype(np.int64)
        x0 = np.floor(u[:, 2 * k : 3 * k] * (size - w + 1)).astype(np.int64)
        y0 = np.floor(u[:, 3 * k : 4 * k] * (size - h + 1)).astype(np.int64)
        u = u[:, 4 * k :]
        active = np.arange(k)[None, :] < count[:, None]
        span_x = (w + 2 * g).astype(np.uint64)[:, None, :]
        span_y = (h + 2 * g).astype(np.uint64)[:, None, :]

        # The goal marker never overlaps an occluder, so the goal is always in sight.
        gx = g + np.floor(u[:, :m] * (size - 2 * g)).astype(np.int64)
        gy = g + np.floor(u[:, m : 2 * m] * (size - 2 * g)).astype(np.int64)
        # a <= v < a + span  <=>  (v - a) as unsigned < span: one comparison per axis.
        overlap = (
            ((gx[:, :, None] - (x0 - g)[:, None, :]).astype(np.uint64) < span_x)
            & ((gy[:, :, None] - (y0 - g)[:, None, :]).astype(np.uint64) < span_y)
            & active[:, None, :]
        )
        free: np.ndarray = ~np.any(overlap, axis=2)
        pick = np.argmax(free, axis=1)
        # Should every candidate be covered (rare), the episode goes without occluders.
        active &= np.any(free, axis=1)[:, None]
        h = np.where(active, h, 0)
        rows = np.arange(n)
        goal = np.stack([gx[rows, pick], gy[rows, pick]], axis=1).astype(np.float64)

        cand = self.low + u[:, 2 * m : 4 * m].reshape(n, m, 2) * (self.high - self.low)
        offset = cand - goal[:, None, :]
        far = np.einsum("nmc,nmc->nm", offset, offset) >= (_MIN_START * size) ** 2
        start = cand[rows, np.argmax(far, axis=1)]
        vel = (u[:, 4 * m : 4 * m + 2] * 2.0 - 1.0) * cfg.accel
        dot = np.concatenate([start, vel], axis=1)

        grid = np.arange(size)
        cols = (grid - x0[:, :, None]).astype(np.uint64) < w[:, :, None].astype(np.uint64)
        lines = (grid - y0[:, :, None]).astype(np.uint64) < h[:, :, None].astype(np.uint64)
        covered = np.zeros((n, size, size), dtype=bool)
        for j in range(k):
            covered |= lines[:, j, :, None] & cols[:, j, None, :]
        scene = covered.view(np.uint8) * np.uint8(OCCLUDER)
        centre = (goal[:, 1] * size + goal[:, 0]).astype(np.intp)
        scene.reshape(n, -1)[rows[:, None], centre[:, None] + self._goal_offsets[None, :]] = GOAL
        return MovingDotState(dot, goal, scene)

    # -- one step ---------------------------------------------------------------------

    def transition(
        self, state: MovingDotState, actions: np.ndarray, rng: np.random.Generator
    ) -> tuple[MovingDotState, np.ndarray, np.ndarray, dict[str, Any]]:
        """Accelerate, damp, move and reflect every dot (deterministic; ``rng`` unused).

        Args:
            state: a batch of ``N`` episodes.
            actions: ``[N, 2]`` float accelerations in ``[-1, 1]`` (continuous) or ``[N]``
                :class:`Action` ints (discrete).
            rng: unused; the dynamics are deterministic given the episode start.

        Returns:
            ``(next_state, reward [N] float32, terminated [N] bool, info)`` with ``info``
            holding ``success [N]`` (the goal was reached; it terminates the episode).
        """
        cfg = self.config
        actions = np.asarray(actions)
        if cfg.continuous:
            push = np.clip(actions.reshape(-1, 2), -1.0, 1.0).astype(np.float64)
            push *= cfg.accel
        else:
            push = self._discrete_push.take(actions.reshape(-1), axis=0)
        n = push.shape[0]
        dot = np.empty_like(state.dot)
        reward = np.empty(n, dtype=np.float32)
        arrived = np.empty(n, dtype=bool)
        _move(
            state.dot, state.goal, push, cfg.damping, self.low, self.high,
            self.arrival_radius, np.float32(-1.0 / self.max_distance),
            np.float32(cfg.arrival_bonus), dot, reward, arrived,
        )  # fmt: skip
        next_state = MovingDotState(dot, state.goal, state.scene)
        return next_state, reward, arrived, {"success": arrived}

    # -- what is seen -----------------------------------------------------------------

    def occluded(self, state: MovingDotState) -> np.ndarray:
        """``[N]`` bool: the dot's centre pixel lies under an occluder (it is not drawn)."""
        n = state.dot.shape[0]
        return state.scene.reshape(n, -1)[np.arange(n), self._centre(state.dot)] == OCCLUDER

    def describe(self, state: MovingDotState) -> dict[str, Any]:
        """``{"state": [N, 4] (x, y, vx, vy), "occluded": [N] bool}``."""
        return self.look(state)[1]

    def observe(self, state: MovingDotState) -> np.ndarray:
        """``[N, 1, H, W]`` uint8: the scene with the dot drawn where nothing hides it."""
        return self.look(state)[0]

    def look(self, state: MovingDotState) -> tuple[np.ndarray, dict[str, Any]]:
        """:meth:`observe` and :meth:`describe` in one pass over the batch."""
        n, size = state.dot.shape[0], self.config.size
        frames = np.empty((n, 1, size, size), dtype=np.uint8)
        occluded = np.empty(n, dtype=bool)
        _draw(
            state.scene.reshape(n, -1), state.dot, self._dot_offsets, size,
            frames.reshape(n, -1), occluded,
        )  # fmt: skip
        return frames, {"state": state.dot.copy(), "occluded": occluded}

    def dot_pixels(self, dot: np.ndarray) -> np.ndarray:
        """``[N, P]`` flat pixel indices (within one frame) covered by ``dot [N, >=2]``."""
        return self._centre(dot)[:, None] + self._dot_offsets[None, :]

    def _centre(self, dot: np.ndarray) -> np.ndarray:
        centre = np.empty(dot.shape[0], dtype=np.intp)
        _centre_pixels(dot, self.config.size, centre)
        return centre


@compiled
def _move(
    dot: np.ndarray,
    goal: np.ndarray,
    push: np.ndarray,
    damping: float,
    low: float,
    high: float,
    arrival_radius: float,
    reward_scale: np.float32,
    bonus: np.float32,
    new_dot: np.ndarray,
    reward: np.ndarray,
    arrived: np.ndarray,
) -> None:
    """Move ``N`` dots one step: accelerate, damp, reflect off the walls, score.

    Reads ``dot [N, 4]`` (x, y, vx, vy), ``goal [N, 2]`` and the accelerations ``push
    [N, 2]``; writes ``new_dot [N, 4]``, ``reward [N]`` float32 (``reward_scale`` times
    the distance to the goal, plus ``bonus`` on arrival) and ``arrived [N]``.
    """
    for i in range(dot.shape[0]):
        for axis in range(2):
            vel = push[i, axis] + damping * dot[i, 2 + axis]
            pos = dot[i, axis] + vel
            inside = min(max(pos, low), high)
            past = pos - inside
            if past != 0.0:
                vel = -vel
            # inside - past: the mirror image of pos in the wall it crossed, clipped so
            # that even an absurd velocity (from ``set_state``) stays on the grid.
            new_dot[i, axis] = min(max(inside - past, low), high)
            new_dot[i, 2 + axis] = vel
        distance = np.hypot(new_dot[i, 0] - goal[i, 0], new_dot[i, 1] - goal[i, 1])
        arrived[i] = distance <= arrival_radius
        reward[i] = np.float32(distance) * reward_scale
        if arrived[i]:
            reward[i] += bonus


@inlined
def _centre_pixel(x: float, y: float, size: int) -> int:
    """Flat index (within a frame) of the pixel under a dot centred at ``(x, y)``."""
    return int(np.rint(y)) * size + int(np.rint(x))


@compiled
def _centre_pixels(dot: np.ndarray, size: int, out: np.ndarray) -> None:
    """``out [N]``: :func:`_centre_pixel` of every dot of ``dot [N, >=2]``."""
    for i in range(dot.shape[0]):
        out[i] = _centre_pixel(dot[i, 0], dot[i, 1], size)


@compiled
def _draw(
    scene: np.ndarray,
    dot: np.ndarray,
    offsets: np.ndarray,
    size: int,
    frames: np.ndarray,
    occluded: np.ndarray,
) -> None:
    """Draw ``N`` frames: each scene ``[N, H * W]`` with its dot where nothing hides it.

    ``offsets [P]`` are the dot's pixels relative to its centre pixel (flat indices).
    A dot whose centre pixel lies under an occluder is not drawn at all (``occluded``),
    and occluders cover the rim of a visible one.
    """
    for i in range(scene.shape[0]):
        for p in range(scene.shape[1]):
            frames[i, p] = scene[i, p]
        centre = _centre_pixel(dot[i, 0], dot[i, 1], size)
        occluded[i] = scene[i, centre] == OCCLUDER
        if occluded[i]:
            continue
        for offset in offsets:
            if scene[i, centre + offset] != OCCLUDER:
                frames[i, centre + offset] = DOT
