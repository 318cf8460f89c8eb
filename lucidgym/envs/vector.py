"""The native vector env of a family: ``num_envs`` copies of its kernel in one NumPy call.

Each family's vector env is an :class:`ArrayVectorEnv` over the same
:class:`~lucidgym.envs.kernel.ArrayKernel` its single env runs, so that both follow
one set of dynamics, and draws its frames with the single env's own drawing code.
"""

from __future__ import annotations

from typing import Any, Generic

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from lucidgym.batched import batch_copy, batch_take
from lucidgym.envs.checks import check_batched_actions, check_render_mode
from lucidgym.envs.kernel import ArrayKernel, S, reset_rows


class ArrayVectorEnv(VectorEnv, Generic[S]):  # type: ignore[type-arg]
    """A native vector env over an :class:`~lucidgym.envs.kernel.ArrayKernel`.

    Two autoreset modes, named by ``metadata["autoreset_mode"]`` (set per instance):

    - ``AutoresetMode.NEXT_STEP`` (the default), as Gymnasium 1.x's
      ``CartPoleVectorEnv``: the step after a sub-environment ends returns its reset
      observation with reward 0 and ``terminated = truncated = False``; collectors of
      experience drop that transition.
    - ``AutoresetMode.SAME_STEP``, as ``SyncVectorEnv(..., autoreset_mode=SAME_STEP)``
      and SB3's ``VecEnv``: the step that ends a sub-environment's episode returns its
      reward and end flags with the reset observation; the final observation is row
      ``i`` of ``info["final_obs"]`` (an object array, ``None`` elsewhere) and the final
      info is ``info["final_info"]`` (arrays over every sub-environment, zero elsewhere),
      both with their masks ``info["_final_obs"]`` and ``info["_final_info"]``. The
      rest of ``info`` is what the next-step mode gives, describing the observations
      returned.

    With ``render_mode="rgb_array"`` (where the family lists it in
    ``metadata["render_modes"]``), :meth:`render` returns a tuple of ``num_envs``
    frames, as ``CartPoleVectorEnv`` and ``SyncVectorEnv`` do, which is what Gymnasium's
    vector ``RecordVideo`` records: frame ``i`` is the picture the single env draws in
    sub-environment ``i``'s place. For the pictures the env then keeps, per
    sub-environment, the episode's return and a family's record of what else they show
    (nothing of this is kept without a ``render_mode``). A family fills in the hooks:

    - ``_frame(i) -> np.ndarray``, required for ``rgb_array``: sub-environment ``i``
      drawn as the single env draws it, from ``self._state`` row ``i``,
      ``self._returns[i]``, ``self._steps[i]`` and ``self._records[i]``.
    - ``_new_record() -> Any``: the record of an episode that has just started.
    - ``_next_record(record, i, action, reward, info) -> Any``: the record of
      sub-environment ``i`` after a step with ``action`` and ``reward``; ``info`` is the
      kernel's, over every sub-environment.

    Args:
        kernel: the family's dynamics.
        num_envs: sub-environments.
        single_observation_space: the space of one observation.
        single_action_space: the space of one action.
        max_episode_steps: steps before a sub-environment is truncated; ``None``: never.
        name: what errors call the env.
        render_mode: one of ``metadata["render_modes"]``, or ``None``.
        autoreset_mode: ``AutoresetMode.NEXT_STEP`` or ``AutoresetMode.SAME_STEP`` (or
            its value, ``"NextStep"`` or ``"SameStep"``).

    Raises:
        ValueError: for a ``num_envs`` or ``max_episode_steps`` below 1, a
            ``render_mode`` the family does not draw, or another ``autoreset_mode``.
    """

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(
        self,
        kernel: ArrayKernel[S],
        num_envs: int,
        single_observation_space: gym.spaces.Space[Any],
        single_action_space: gym.spaces.Space[Any],
        max_episode_steps: int | None,
        name: str,
        render_mode: str | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"{name}: num_envs must be at least 1, got {num_envs}")
        if max_episode_steps is not None and max_episode_steps < 1:
            raise ValueError(f"{name}: max_episode_steps must be positive, got {max_episode_steps}")
        check_render_mode(render_mode, self.metadata["render_modes"], name)
        self.autoreset_mode = _check_autoreset_mode(autoreset_mode, name)
        # Per instance: two envs of one class may reset in different steps.
        self.metadata = {**type(self).metadata, "autoreset_mode": self.autoreset_mode}
        self.kernel = kernel
        self.num_envs = num_envs
        self.max_episode_steps = max_episode_steps
        self.render_mode = render_mode
        self.single_observation_space = single_observation_space
        self.single_action_space = single_action_space
        self.observation_space = batch_space(single_observation_space, num_envs)
        self.action_space = batch_space(single_action_space, num_envs)
        self._name = name
        self._state: S | None = None
        self._steps = np.zeros(num_envs, dtype=np.int64)
        self._prev_done = np.zeros(num_envs, dtype=bool)
        self._returns = np.zeros(num_envs)
        """Each episode's return so far, for the pictures (kept only when rendering)."""
        self._records: list[Any] = [None] * num_envs
        """Each episode's record for the pictures (kept only when rendering)."""

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every sub-environment; ``seed`` determines all episodes that follow."""
        super().reset(seed=seed)
        self._state = self.kernel.initial(self.np_random, self.num_envs)
        self._steps = np.zeros(self.num_envs, dtype=np.int64)
        self._prev_done = np.zeros(self.num_envs, dtype=bool)
        if self.render_mode is not None:
            self._returns = np.zeros(self.num_envs)
            self._records = [self._new_record() for _ in range(self.num_envs)]
        return self._observation(self._state, np.zeros(self.num_envs, dtype=bool), {})

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every sub-environment and autoreset those that end (see the class docstring)."""
        if self._state is None:
            raise RuntimeError(f"{self._name}: call reset() before step()")
        actions = check_batched_actions(
            self.single_action_space, actions, self.num_envs, self._name
        )
        state, reward, terminated, info = self.kernel.transition(
            self._state, actions, self.np_random
        )
        reward = reward.astype(np.float32, copy=True)
        terminated = terminated.astype(bool, copy=True)
        self._steps += 1
        if self.max_episode_steps is not None:
            truncated = self._steps >= self.max_episode_steps
        else:
            truncated = np.zeros(self.num_envs, dtype=bool)
        restarted = self._prev_done  # only next-step autoreset leaves ends pending
        if restarted.any():
            state = self._autoreset(state, restarted)
            reward[restarted] = 0.0
            terminated[restarted] = False
            truncated[restarted] = False
        done = terminated | truncated
        finals: dict[str, Any] = {}
        if self.autoreset_mode is AutoresetMode.NEXT_STEP:
            self._prev_done = done
        elif done.any():
            finals = self._finals(state, terminated, info, done)
            state = self._autoreset(state, done)
            restarted = done
        self._state = state
        if self.render_mode is not None:
            self._track(restarted, actions, reward, info)
        if not finals:
            obs, info = self._observation(state, terminated, info)
            return obs, reward, terminated, truncated, info
        # The info of an observation describes it, and a fresh episode has not terminated.
        obs, info = self._observation(state, terminated & ~done, info)
        return obs, reward, terminated, truncated, {**info, **finals}

    def _autoreset(self, state: S, ended: np.ndarray) -> S:
        """``state`` with fresh episodes where ``ended``, their step counts back at 0."""
        index = np.flatnonzero(ended)
        self._steps[index] = 0
        return self._restart(state, index)

    def _finals(
        self, state: S, terminated: np.ndarray, info: dict[str, Any], done: np.ndarray
    ) -> dict[str, Any]:
        """``final_obs``, ``final_info`` and their masks, as ``SyncVectorEnv`` fills them.

        Read from ``state`` before the autoreset overwrites its rows; only the rows that
        ended are observed (an observation can cost as much as the step).
        """
        rows = np.flatnonzero(done)
        obs, final_info = self._observation(
            batch_take(state, rows), terminated[rows], _take_rows(info, rows)
        )
        final_obs = np.full(self.num_envs, None, dtype=object)
        for k, i in enumerate(rows):
            final_obs[i] = obs[k]
        return {
            "final_obs": final_obs,
            "_final_obs": done.copy(),
            "final_info": _spread_rows(final_info, rows, done),
            "_final_info": done.copy(),
        }

    def _restart(self, state: S, rows: np.ndarray) -> S:
        """``state`` with fresh episodes in rows ``rows`` (the autoreset); ``state`` is ours."""
        return reset_rows(self.kernel, state, rows, self.np_random)

    def _observation(
        self, state: S, terminated: np.ndarray, info: dict[str, Any]
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Observations and ``info`` of ``state`` (a batch of any size).

        ``terminated`` says which observations end an episode; ``info`` is the kernel's
        for those rows. Called for what a step returns (after any autoreset) and, with
        same-step autoreset, for the final observations of the episodes that ended.
        """
        return self.kernel.observe(state), info

    def get_state(self) -> S:
        """A copy of every sub-environment's hidden state (not the random generator)."""
        if self._state is None:
            raise RuntimeError(f"{self._name}: call reset() before get_state()")
        return batch_copy(self._state)

    # -- rendering ------------------------------------------------------------------

    def render(self) -> tuple[np.ndarray, ...] | None:
        """``rgb_array``: one ``[H, W, 3]`` uint8 frame per sub-environment."""
        if self.render_mode is None:
            gym.logger.warn(f"{self._name}: render() called without a render_mode")
            return None
        if self._state is None:
            raise RuntimeError(f"{self._name}: call reset() before render()")
        return tuple(self._frame(i) for i in range(self.num_envs))

    def _row(self, i: int) -> S:
        """Sub-environment ``i``'s state as a batch of one, as the single env holds it."""
        assert self._state is not None
        return batch_take(self._state, np.array([i]))

    def _track(
        self, restarted: np.ndarray, actions: np.ndarray, reward: np.ndarray, info: dict[str, Any]
    ) -> None:
        """Bring the pictures' returns and records up to date after a step."""
        for i in range(self.num_envs):
            if restarted[i]:  # the step was an autoreset, as a reset of the single env
                self._returns[i] = 0.0
                self._records[i] = self._new_record()
            else:
                r = float(reward[i])
                self._returns[i] += r
                self._records[i] = self._next_record(self._records[i], i, actions[i], r, info)

    def _new_record(self) -> Any:
        """The record of a new episode (here: none)."""
        return None

    def _next_record(
        self, record: Any, i: int, action: Any, reward: float, info: dict[str, Any]
    ) -> Any:
        """Sub-environment ``i``'s record after a step (here: none)."""
        return record

    def _frame(self, i: int) -> np.ndarray:
        raise NotImplementedError


def _check_autoreset_mode(mode: AutoresetMode | str, name: str) -> AutoresetMode:
    modes = (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP)
    for checked in modes:
        if mode is checked or (isinstance(mode, str) and mode == checked.value):
            return checked
    raise ValueError(
        f"{name}: autoreset_mode must be AutoresetMode.NEXT_STEP or SAME_STEP "
        f"(DISABLED has no partial reset here), got {mode!r}"
    )


def _take_rows(info: dict[str, Any], rows: np.ndarray) -> dict[str, Any]:
    """Rows ``rows`` of every array of a kernel's ``info`` (nested dicts too)."""
    return {
        key: _take_rows(value, rows) if isinstance(value, dict) else np.asarray(value)[rows]
        for key, value in info.items()
    }


def _spread_rows(info: dict[str, Any], rows: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
    """``info`` of rows ``rows`` over every sub-environment, as Gymnasium batches infos.

    Each value becomes an array of ``len(mask)`` rows, zero outside ``rows``, beside
    its mask ``_key`` (``mask``, true on ``rows``); nested dicts alike.
    """
    out: dict[str, Any] = {}
    for key, value in info.items():
        if isinstance(value, dict):
            out[key] = _spread_rows(value, rows, mask)
        else:
            value = np.asarray(value)
            out[key] = np.zeros((mask.size, *value.shape[1:]), dtype=value.dtype)
            out[key][rows] = value
        out["_" + key] = mask.copy()
    return out
