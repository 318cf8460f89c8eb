"""``MovingDotEnv`` and its native vector env."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from lucidgym.envs.kernel import (
    ArrayVectorEnv,
    KernelEnvMixin,
    check_action,
    check_state,
)
from lucidgym.envs.moving_dot.drawing import render_frame
from lucidgym.envs.moving_dot.kernel import (
    Action,
    MovingDotConfig,
    MovingDotKernel,
    MovingDotState,
)
from lucidgym.envs.rendering import HumanWindow


def _spaces(config: MovingDotConfig) -> tuple[gym.spaces.Box, gym.spaces.Space[Any]]:
    obs = gym.spaces.Box(0, 255, shape=(1, config.size, config.size), dtype=np.uint8)
    if config.continuous:
        return obs, gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    return obs, gym.spaces.Discrete(len(Action))


class MovingDotEnv(KernelEnvMixin[MovingDotState], gym.Env[np.ndarray, Any]):
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
    Truncation: the registered ``max_episode_steps`` (100).

    ## Info
    ``state``: the true ``(x, y, vx, vy)`` in pixels (float64 ``[4]``); ``occluded``:
    the dot is hidden now; ``success``: this step reached the goal.

    ## Arguments
    ``size`` (32; at least 8), ``continuous`` (set by the id), ``occlusion`` (True),
    ``max_occluders`` (2), ``occluder_size`` (``(min, max)`` side in pixels, default
    ``(size // 5, size // 3)``), ``damping`` (0.7), ``acceleration`` (pixels per step
    squared at full action, default ``0.5 * size / 32``), ``arrival_bonus`` (10),
    ``render_mode`` (``"rgb_array"`` or ``"human"``). See :class:`MovingDotConfig`.

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

    def __init__(
        self,
        size: int = 32,
        continuous: bool = True,
        occlusion: bool = True,
        max_occluders: int = 2,
        occluder_size: tuple[int, int] | None = None,
        damping: float = 0.7,
        acceleration: float | None = None,
        arrival_bonus: float = 10.0,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode {render_mode!r} is not one of {self.metadata['render_modes']}"
            )
        self.config = MovingDotConfig(
            size=size,
            continuous=continuous,
            occlusion=occlusion,
            max_occluders=max_occluders,
            occluder_size=occluder_size,
            damping=damping,
            acceleration=acceleration,
            arrival_bonus=arrival_bonus,
        )
        self.kernel = MovingDotKernel(self.config)
        self.observation_space, self.action_space = _spaces(self.config)
        self.render_mode = render_mode
        self._state: MovingDotState | None = None
        self._steps = 0
        self._return = 0.0
        self._window: HumanWindow | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; ``seed`` fixes it and every episode after it."""
        super().reset(seed=seed)
        self._state = self.kernel.initial(self.np_random, 1)
        self._steps = 0
        self._return = 0.0
        if self.render_mode == "human":
            self.render()
        obs, info = self.kernel.look(self._state)
        return obs[0], self._info(info)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Accelerate the dot; see the class docstring for what comes back."""
        if self._state is None:
            raise RuntimeError(f"{self._name}: call reset() before step()")
        act = check_action(self.action_space, action, self._name)
        self._state, reward, terminated, info = self.kernel.transition(
            self._state, act[None], self.np_random
        )
        r = float(reward[0])
        self._steps += 1
        self._return += r
        if self.render_mode == "human":
            self.render()
        obs, seen = self.kernel.look(self._state)
        return obs[0], r, bool(terminated[0]), False, self._info({**info, **seen})

    @staticmethod
    def _info(info: dict[str, Any]) -> dict[str, Any]:
        return {
            "state": info["state"][0].copy(),
            "occluded": bool(info["occluded"][0]),
            "success": bool(info["success"][0]) if "success" in info else False,
        }

    @property
    def _name(self) -> str:
        if self.spec is not None:
            return self.spec.id
        return "MovingDot" + ("" if self.config.continuous else "Discrete")

    # -- snapshots and oracle -------------------------------------------------------

    def set_state(self, state: MovingDotState) -> None:
        """Restore a snapshot from :meth:`get_state`; a malformed one raises ``ValueError``."""
        if self._state is None:
            raise RuntimeError(f"{self._name}: call reset() before set_state()")
        state = check_state(self._state, state, self._name)
        lo, hi = self.kernel.low, self.kernel.high
        for name, value in (("dot", state.dot[:, :2]), ("goal", state.goal)):
            if np.any(value < lo) or np.any(value > hi):
                raise ValueError(
                    f"{self._name}.set_state: position in field {name!r} "
                    f"({value.tolist()}) is outside [{lo}, {hi}]"
                )
        self._state = state

    # -- rendering ----------------------------------------------------------------

    def render(self) -> np.ndarray | None:
        """``rgb_array``: an upscaled colour frame; ``human``: the same in a window."""
        if self.render_mode is None:
            gym.logger.warn(f"{self._name}: render() called without a render_mode")
            return None
        if self._state is None:
            raise RuntimeError(f"{self._name}: call reset() before render()")
        frame = render_frame(self.kernel, self._state, self._steps, self._return)
        if self.render_mode == "rgb_array":
            return frame
        self._show_in_window(frame)
        return None


class MovingDotVectorEnv(ArrayVectorEnv[MovingDotState]):
    """``num_envs`` moving dots stepped and drawn in one NumPy call (next-step autoreset).

    Takes the same arguments as :class:`MovingDotEnv`, plus ``num_envs`` and
    ``max_episode_steps`` (passed by ``gym.make_vec`` from the registration). ``info``
    holds ``state [N, 4]``, ``occluded [N]`` and ``success [N]``, describing the
    observations returned (after any autoreset). Episode starts for autoresets are drawn
    in blocks from the env's generator, so the same seed gives the same episodes.
    """

    def __init__(
        self,
        num_envs: int = 1,
        size: int = 32,
        continuous: bool = True,
        occlusion: bool = True,
        max_occluders: int = 2,
        occluder_size: tuple[int, int] | None = None,
        damping: float = 0.7,
        acceleration: float | None = None,
        arrival_bonus: float = 10.0,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None:
            raise ValueError("MovingDotVectorEnv does not render; use MovingDotEnv to render")
        config = MovingDotConfig(
            size=size,
            continuous=continuous,
            occlusion=occlusion,
            max_occluders=max_occluders,
            occluder_size=occluder_size,
            damping=damping,
            acceleration=acceleration,
            arrival_bonus=arrival_bonus,
        )
        obs_space, act_space = _spaces(config)
        self.dots = MovingDotKernel(config)
        super().__init__(
            self.dots,
            num_envs,
            obs_space,
            act_space,
            max_episode_steps,
            "MovingDotVectorEnv" + ("" if continuous else "(discrete)"),
        )
        self.config = config
        self.render_mode = None
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
