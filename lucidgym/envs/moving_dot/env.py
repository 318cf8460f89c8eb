"""``MovingDotEnv`` and its native vector env."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from lucidgym.envs.checks import FieldRange, check_action, check_ranges
from lucidgym.envs.kernel import KernelEnv
from lucidgym.envs.moving_dot.drawing import render_frame
from lucidgym.envs.moving_dot.kernel import (
    GOAL,
    OCCLUDER,
    Action,
    MovingDotConfig,
    MovingDotKernel,
    MovingDotState,
)
from lucidgym.envs.vector import ArrayVectorEnv

_SCENE_VALUES = (0, OCCLUDER, GOAL)
"""What a scene pixel may hold: empty, occluder or goal marker (the dot is drawn over it)."""


def _build(
    physics: dict[str, Any],
) -> tuple[MovingDotKernel, gym.spaces.Box, gym.spaces.Space[Any]]:
    """The kernel and the spaces of one dot, from the :class:`MovingDotConfig` fields given.

    Both envs take the fields as keyword arguments, so the list lives in the dataclass
    alone; an unknown one raises ``TypeError``, a bad value ``ValueError``.
    """
    config = MovingDotConfig(**physics)
    obs = gym.spaces.Box(0, 255, shape=(1, config.size, config.size), dtype=np.uint8)
    if config.continuous:
        action: gym.spaces.Space[Any] = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    else:
        action = gym.spaces.Discrete(len(Action))
    return MovingDotKernel(config), obs, action


class MovingDotEnv(KernelEnv[MovingDotState]):
    """A dot to steer to a goal on a small grid, seen as pixels, sometimes hidden.

    ## Description
    A dot moves on a ``size x size`` grid: the action accelerates it, its velocity is
    damped each step, and it reflects off the walls. A hollow square marks the goal.
    Each episode draws 0 to ``max_occluders`` grey rectangles; while the dot's centre
    is under one, the dot is not drawn, so only an agent (or world model) that tracks
    its velocity knows where it is. The goal marker is never covered.

    - ``MovingDot-v0``: continuous accelerations.
    - ``MovingDotDiscrete-v0``: five discrete actions (:class:`Action`), for tree search.

    ## Action Space
    ``MovingDot-v0``: ``Box(-1, 1, (2,), float32)``, the acceleration ``(ax, ay)`` as a
    fraction of ``acceleration`` (``y`` grows downwards).
    ``MovingDotDiscrete-v0``: ``Discrete(5)``: 0 none, 1 up, 2 down, 3 left, 4 right.

    ## Observation Space
    ``Box(0, 255, (1, size, size), uint8)``, one grey-level image (channel first):

    | value | meaning | min | max |
    |-------|---------|-----|-----|
    | 0 | empty | 0 | 0 |
    | 80 | occluder (hides the dot beneath it) | 80 | 80 |
    | 160 | goal marker (hollow square) | 160 | 160 |
    | 255 | dot (3x3 at size 32, 5x5 disk at 64) | 255 | 255 |

    ## Rewards
    Each step: minus the dot-to-goal distance divided by the largest possible distance
    (so in ``[-1, 0]``), plus ``arrival_bonus`` (10) on the step that reaches the goal.

    ## Starting State
    Occluders of random count, size and place; a goal whose marker lies clear of them;
    the dot at least ``size / 4`` pixels from the goal, with a random velocity of at
    most ``acceleration`` per axis. All drawn from ``self.np_random``.

    ## Episode End
    Termination: the dot's centre comes within ``dot radius + 0.5`` pixels of the goal.
    Truncation: the registered ``max_episode_steps`` (100), through ``gym.make``'s
    ``TimeLimit``. A ``step`` after termination, or past the registered limit, raises
    ``RuntimeError`` until ``reset()``. An env built directly (``MovingDotEnv()``) has no
    time limit.

    ## Info
    ``state``: the true ``(x, y, vx, vy)`` in pixels (float64 ``[4]``); ``occluded``:
    the dot is hidden now; ``success``: this step reached the goal.

    ## Arguments
    Keywords only: the fields of :class:`MovingDotConfig`, ``size`` (32; at least 8),
    ``continuous`` (set by the id), ``occlusion`` (True), ``max_occluders`` (2),
    ``occluder_size`` (``(min, max)`` side in pixels, default ``(size // 5, size // 3)``),
    ``damping`` (0.7), ``acceleration`` (pixels per step squared at full action, default
    ``0.5 * size / 32``), ``arrival_bonus`` (10); and ``render_mode`` (``"rgb_array"``
    or ``"human"``). The config is kept as ``env.config``.

    ## Version History
    - v0: initial release.

    Example:
        >>> import gymnasium as gym
        >>> import lucidgym  # noqa: F401
        >>> env = gym.make("MovingDotDiscrete-v0")
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape, obs.dtype, info["state"].shape
        ((1, 32, 32), dtype('uint8'), (4,))
        >>> obs, reward, terminated, truncated, info = env.step(4)
        >>> -1.0 <= reward <= 0.0
        True
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array", "human"], "render_fps": 15}

    kernel: MovingDotKernel

    def __init__(self, *, render_mode: str | None = None, **physics: Any) -> None:
        super().__init__(*_build(physics), render_mode)
        self.config = self.kernel.config

    def _unregistered_name(self) -> str:
        return "MovingDot" + ("" if self.config.continuous else "Discrete")

    def _first_observation(self, state: MovingDotState) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.kernel.look(state)
        return obs[0], self._info(info)

    def _advance(
        self, state: MovingDotState, action: Any
    ) -> tuple[MovingDotState, np.ndarray, float, bool, dict[str, Any]]:
        act = check_action(self.action_space, action, self._name)
        new, reward, terminated, info = self.kernel.transition(state, act[None], self.np_random)
        obs, seen = self.kernel.look(new)
        return new, obs[0], float(reward[0]), bool(terminated[0]), self._info({**info, **seen})

    @staticmethod
    def _info(info: dict[str, Any]) -> dict[str, Any]:
        return {
            "state": info["state"][0].copy(),
            "occluded": bool(info["occluded"][0]),
            "success": bool(info["success"][0]) if "success" in info else False,
        }

    def _check_snapshot(self, state: MovingDotState) -> None:
        # Velocities may be anything finite: the step keeps even an absurd one on the grid.
        lo, hi = self.kernel.low, self.kernel.high
        positions = (
            FieldRange("dot", lo, hi, (0, 1), ("x", "y")),
            FieldRange("goal", lo, hi, (0, 1), ("x", "y")),
        )
        check_ranges(state, positions, self._name)
        odd = ~np.isin(state.scene, _SCENE_VALUES)
        if np.any(odd):
            raise ValueError(
                f"{self._name}.set_state: field 'scene' holds {state.scene[odd][0]}; its "
                f"pixels must be one of {_SCENE_VALUES} (empty, occluder, goal marker)"
            )

    def _frame(self) -> np.ndarray:
        assert self._state is not None
        return render_frame(self.kernel, self._state, self._elapsed, self._return)


class MovingDotVectorEnv(ArrayVectorEnv[MovingDotState]):
    """``num_envs`` moving dots stepped and drawn in one NumPy call.

    Takes the same arguments as :class:`MovingDotEnv`, plus ``num_envs``,
    ``max_episode_steps`` (passed by ``gym.make_vec`` from the registration) and
    ``autoreset_mode`` (next-step by default; see
    :class:`~lucidgym.envs.vector.ArrayVectorEnv`); its one
    ``render_mode`` is ``"rgb_array"``: ``render()`` gives each dot's picture, as
    :class:`MovingDotEnv` draws it. ``info`` holds ``state [N, 4]``, ``occluded [N]``
    and ``success [N]``, describing the observations returned (after any autoreset).
    Episode starts for autoresets are drawn in blocks from the env's generator, so the
    same seed gives the same episodes.
    """

    metadata: dict[str, Any] = {
        **ArrayVectorEnv.metadata,
        "render_modes": ["rgb_array"],
        "render_fps": MovingDotEnv.metadata["render_fps"],
    }

    def __init__(
        self,
        num_envs: int = 1,
        *,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        **physics: Any,
    ) -> None:
        self.dots, obs_space, act_space = _build(physics)
        super().__init__(
            self.dots,
            num_envs,
            obs_space,
            act_space,
            max_episode_steps,
            "MovingDotVectorEnv" + ("" if self.dots.config.continuous else "(discrete)"),
            render_mode,
            autoreset_mode,
        )
        self.config = self.dots.config
        self._block = max(16, num_envs // 8)
        self._starts: MovingDotState | None = None
        self._next_start = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every dot; ``seed`` determines all episodes that follow."""
        self._starts = None
        return super().reset(seed=seed, options=options)

    def _restart(self, state: MovingDotState, rows: np.ndarray) -> MovingDotState:
        # In place: the scene layer is the bulk of the state, and copying it whole on
        # every autoreset would cost more than the rest of the step. goal and scene are
        # shared with the previous state, which only this env holds.
        for field, new in zip(state, self._draw_starts(rows.size), strict=True):
            field[rows] = new
        return state

    def _observation(
        self, state: MovingDotState, terminated: np.ndarray, info: dict[str, Any]
    ) -> tuple[np.ndarray, dict[str, Any]]:
        obs, seen = self.dots.look(state)
        seen["success"] = terminated.copy()
        return obs, seen

    def _draw_starts(self, n: int) -> MovingDotState:
        if self._starts is None or self._next_start + n > self._starts.dot.shape[0]:
            self._starts = self.dots.initial(self.np_random, max(self._block, n))
            self._next_start = 0
        lo, self._next_start = self._next_start, self._next_start + n
        return MovingDotState(*(f[lo : self._next_start] for f in self._starts))

    def _frame(self, i: int) -> np.ndarray:
        return render_frame(self.dots, self._row(i), int(self._steps[i]), self._returns[i])
