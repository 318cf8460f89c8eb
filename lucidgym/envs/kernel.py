"""Machinery shared by the environment families.

Each family writes its dynamics once, as an :class:`ArrayKernel`: pure functions over a
batch of ``N`` states held in a ``NamedTuple`` of arrays. The single environment runs
the kernel with ``N = 1``; the native vector environment (:class:`ArrayVectorEnv`)
runs it with ``N = num_envs`` in one NumPy call; the oracle (:class:`KernelDynamics`)
runs it over whatever batch a planner asks for, with its own random generator. A
family's single env is a :class:`KernelEnv` that fills in a few hooks.
"""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from lucidgym.batched import batch_copy, batch_put, batch_take
from lucidgym.envs.checks import check_batched_actions, check_state
from lucidgym.envs.rendering import HumanWindow

S = TypeVar("S", bound=tuple[Any, ...])


class ArrayKernel(Protocol[S]):
    """The dynamics of an environment family, written once over a batch of ``N``."""

    def initial(self, rng: np.random.Generator, n: int) -> S:
        """``n`` fresh episode-start states."""
        ...

    def transition(
        self, state: S, actions: np.ndarray, rng: np.random.Generator
    ) -> tuple[S, np.ndarray, np.ndarray, dict[str, Any]]:
        """One step of every state.

        Args:
            state: a batch of ``N`` states.
            actions: ``[N]`` ints or ``[N, A]`` floats, already validated.
            rng: the generator every random draw comes from.

        Returns:
            ``(next_state, reward [N] float32, terminated [N] bool, info)`` where every
            value of ``info`` is an array with leading dimension ``N``.
        """
        ...

    def observe(self, state: S) -> np.ndarray:
        """Observations ``[N, *obs_shape]`` of a batch of states."""
        ...


def reset_rows(kernel: ArrayKernel[S], state: S, rows: np.ndarray, rng: np.random.Generator) -> S:
    """``state`` with rows ``rows`` replaced by fresh episode starts.

    A kernel may offer ``reset_rows(state, rows, rng)`` that writes them in place (the
    caller owns ``state``); otherwise the rows come from ``initial`` and a copy.
    """
    in_place = getattr(kernel, "reset_rows", None)
    if in_place is None:
        return batch_put(state, rows, kernel.initial(rng, rows.size))
    in_place(state, rows, rng)
    return state


class KernelDynamics(Generic[S]):
    """An environment's true dynamics as a batched :class:`~lucidgym.types.Dynamics`.

    The oracle draws its own randomness from ``seed``: it knows the hidden state, not
    the future random draws of the environment it was taken from.
    """

    def __init__(
        self,
        kernel: ArrayKernel[S],
        action_space: gym.spaces.Space[Any],
        seed: int | None = None,
    ) -> None:
        self.kernel = kernel
        self.action_space = action_space
        self.rng = np.random.default_rng(seed)

    def step(self, states: S, actions: np.ndarray) -> tuple[S, np.ndarray, np.ndarray]:
        """``states`` batch of ``B``, ``actions [B]`` -> ``(states, rewards [B], dones [B])``."""
        next_states, reward, terminated, _ = self.kernel.transition(
            states, np.asarray(actions), self.rng
        )
        return next_states, reward.astype(np.float32), terminated.astype(bool)

    def take(self, states: S, index: np.ndarray) -> S:
        """Rows ``index`` of a batch of states."""
        return batch_take(states, np.asarray(index))

    def observe(self, states: S) -> np.ndarray:
        """Observations of a batch of states (what the agent would see there)."""
        return self.kernel.observe(states)


class KernelEnv(gym.Env[np.ndarray, Any], Generic[S]):
    """The single env of a family: one episode of an :class:`ArrayKernel`, a batch of one.

    The base owns what every family's single env shares: the ``render_mode`` check
    against ``metadata["render_modes"]``, ``reset`` and ``step`` (seeding, the
    reset-before-step guard, the episode's running return, a redraw per step in
    ``human`` mode), ``render``, the pygame window, snapshots (:meth:`get_state`,
    :meth:`set_state`), the oracle (:meth:`get_dynamics`) and :meth:`close`. A family
    fills in the hooks, as a Minigrid env fills in ``_gen_grid``:

    - ``_advance(state, action) -> (state, obs, reward, terminated, info)``, required:
      one step from ``state``, validating ``action`` first.
    - ``_first_observation(state) -> (obs, info)``, required: what ``reset`` returns.
    - ``_frame() -> np.ndarray``, required for ``rgb_array`` and ``human``: a
      ``[H, W, 3]`` uint8 picture of now.
    - ``_ansi() -> str``, required for ``ansi``: the text of now.
    - ``_start_episode(options) -> None``: read ``reset`` options and clear the
      records of the last episode, before the new one is drawn.
    - ``_check_snapshot(state) -> None``: checks of a ``set_state`` snapshot beyond its
      layout.
    - ``_unregistered_name() -> str``: the name errors carry when the env was built
      without ``gym.make`` (with it, they carry the registered id).

    Envs with expert rules also offer ``expert_policy()``: a batched
    ``obs [B, *O] -> actions [B]`` function. The base does not define it, so that
    ``getattr(env.unwrapped, "expert_policy", None)`` tells which envs have rules.

    Args:
        kernel: the family's dynamics.
        observation_space: the space of one observation.
        action_space: the space of one action.
        render_mode: one of ``metadata["render_modes"]``, or ``None``.

    Raises:
        ValueError: for a ``render_mode`` the family does not draw.
    """

    def __init__(
        self,
        kernel: ArrayKernel[S],
        observation_space: gym.spaces.Space[Any],
        action_space: gym.spaces.Space[Any],
        render_mode: str | None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode {render_mode!r} is not one of {self.metadata['render_modes']}"
            )
        self.kernel = kernel
        self.observation_space = observation_space
        self.action_space = action_space
        self.render_mode = render_mode
        self._state: S | None = None
        """The episode's state as a batch of one; ``None`` before the first reset."""
        self._return = 0.0
        """The episode's return so far, for the pictures."""
        self._window: HumanWindow | None = None

    @property
    def _name(self) -> str:
        return self.spec.id if self.spec is not None else self._unregistered_name()

    def _unregistered_name(self) -> str:
        return type(self).__name__

    # -- the episode ----------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; ``seed`` fixes it and every episode after it."""
        super().reset(seed=seed)
        self._start_episode(options)
        self._state = self.kernel.initial(self.np_random, 1)
        self._return = 0.0
        if self.render_mode == "human":
            self.render()
        return self._first_observation(self._state)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """One step; truncation is left to the registered time limit."""
        if self._state is None:
            raise RuntimeError(f"{self._name}: call reset() before step()")
        self._state, obs, reward, terminated, info = self._advance(self._state, action)
        self._return += reward
        if self.render_mode == "human":
            self.render()
        return obs, reward, terminated, False, info

    def _start_episode(self, options: dict[str, Any] | None) -> None:
        """Read ``reset``'s ``options`` and clear the last episode's records (here: none)."""

    def _first_observation(self, state: S) -> tuple[np.ndarray, dict[str, Any]]:
        raise NotImplementedError

    def _advance(self, state: S, action: Any) -> tuple[S, np.ndarray, float, bool, dict[str, Any]]:
        raise NotImplementedError

    # -- snapshots and oracle -------------------------------------------------------

    def get_state(self) -> S:
        """A copy of the episode's hidden state as a batch of one (not the random generator)."""
        if self._state is None:
            raise RuntimeError(f"{self._name}: call reset() before get_state()")
        return batch_copy(self._state)

    def set_state(self, state: S) -> None:
        """Restore a snapshot from :meth:`get_state`; a malformed one raises ``ValueError``."""
        if self._state is None:
            raise RuntimeError(f"{self._name}: call reset() before set_state()")
        state = check_state(self._state, state, self._name)
        self._check_snapshot(state)
        self._state = state

    def _check_snapshot(self, state: S) -> None:
        """Refuse a snapshot whose values the family cannot hold (here: any is fine)."""

    def get_dynamics(self, seed: int | None = None) -> KernelDynamics[S]:
        """The true dynamics as a batched :class:`~lucidgym.types.Dynamics` (own RNG)."""
        return KernelDynamics(self.kernel, self.action_space, seed)

    # -- rendering ------------------------------------------------------------------

    def render(self) -> str | np.ndarray | None:
        """``ansi``: a line of text; ``rgb_array``: a picture; ``human``: it in a window."""
        if self.render_mode is None:
            gym.logger.warn(f"{self._name}: render() called without a render_mode")
            return None
        if self._state is None:
            raise RuntimeError(f"{self._name}: call reset() before render()")
        if self.render_mode == "ansi":
            return self._ansi()
        frame = self._frame()
        if self.render_mode == "rgb_array":
            return frame
        if self._window is None:
            self._window = HumanWindow(self._name, self.metadata["render_fps"])
        self._window.show(frame)
        return None

    def _frame(self) -> np.ndarray:
        raise NotImplementedError

    def _ansi(self) -> str:
        raise NotImplementedError

    def close(self) -> None:
        """Close the window, if one is open."""
        if self._window is not None:
            self._window.close()
            self._window = None


class ArrayVectorEnv(VectorEnv, Generic[S]):  # type: ignore[type-arg]
    """A native vector env over an :class:`ArrayKernel`, with next-step autoreset.

    As in Gymnasium 1.x's ``CartPoleVectorEnv``: the step after a sub-environment ends
    returns its reset observation with reward 0 and ``terminated = truncated = False``;
    collectors of experience drop that transition.
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
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"{name}: num_envs must be at least 1, got {num_envs}")
        if max_episode_steps is not None and max_episode_steps < 1:
            raise ValueError(f"{name}: max_episode_steps must be positive, got {max_episode_steps}")
        self.kernel = kernel
        self.num_envs = num_envs
        self.max_episode_steps = max_episode_steps
        self.single_observation_space = single_observation_space
        self.single_action_space = single_action_space
        self.observation_space = batch_space(single_observation_space, num_envs)
        self.action_space = batch_space(single_action_space, num_envs)
        self._name = name
        self._state: S | None = None
        self._steps = np.zeros(num_envs, dtype=np.int64)
        self._prev_done = np.zeros(num_envs, dtype=bool)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every sub-environment; ``seed`` determines all episodes that follow."""
        super().reset(seed=seed)
        self._state = self.kernel.initial(self.np_random, self.num_envs)
        self._steps = np.zeros(self.num_envs, dtype=np.int64)
        self._prev_done = np.zeros(self.num_envs, dtype=bool)
        return self._observation(self._state, np.zeros(self.num_envs, dtype=bool), {})

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every sub-environment; those that ended last step are reset instead."""
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
        if self._prev_done.any():
            index = np.flatnonzero(self._prev_done)
            state = self._restart(state, index)
            self._steps[index] = 0
            reward[index] = 0.0
            terminated[index] = False
            truncated[index] = False
        self._state = state
        self._prev_done = terminated | truncated
        obs, info = self._observation(state, terminated, info)
        return obs, reward, terminated, truncated, info

    def _restart(self, state: S, rows: np.ndarray) -> S:
        """``state`` with fresh episodes in rows ``rows`` (the autoreset); ``state`` is ours."""
        return reset_rows(self.kernel, state, rows, self.np_random)

    def _observation(
        self, state: S, terminated: np.ndarray, info: dict[str, Any]
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Observations and ``info`` returned for ``state`` (after any autoreset)."""
        return self.kernel.observe(state), info

    def get_state(self) -> S:
        """A copy of every sub-environment's hidden state (not the random generator)."""
        if self._state is None:
            raise RuntimeError(f"{self._name}: call reset() before get_state()")
        return batch_copy(self._state)
